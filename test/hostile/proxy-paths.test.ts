// Hostile paths: whatever a client puts in the path, an upstream that decodes it as
// aggressively as real servers do (repeated percent-decoding, NFKC folding, Tomcat/Jetty
// `;params`) can never resolve it outside the route's base path. And every refusal that
// needs no upstream comes before the key's limits: a refused request consumes nothing.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullyDecoded, isSafeRemainder, isSafeSegment } from '../../src/proxy/path-safety';
import { bearer, call, createKey, testEnv, upstreamOrigin, type Echo, type ErrorJson } from '../harness/gateway';

/** How the most permissive upstream reads a forwarded path: decoded until stable, NFKC, params dropped, dots resolved. */
function upstreamResolves(path: string): string[] | null {
  const out: string[] = [];
  for (const raw of path.split('/').slice(1)) {
    let seg = raw;
    for (let i = 0; i < 10 && /%[0-9a-f]{2}/i.test(seg); i++) {
      try {
        seg = decodeURIComponent(seg);
      } catch {
        break;
      }
    }
    seg = seg.normalize('NFKC');
    // Decoding may reveal separators: split again, as a server that decodes first would.
    for (let part of seg.split(/[/\\]/)) {
      part = part.split(';')[0] as string;
      part = part.replace(/[\u0000-\u001f\u007f]/g, '');
      if (part === '..') {
        if (out.length === 0) return null;
        out.pop();
      } else if (part !== '.' && part !== '') out.push(part);
    }
  }
  return out;
}

const PIECES = ['.', '..', '%2e', '%2E', '%252e', '%25252e', '\uff0e', '%EF%BC%8E', '\u2025', ';', '%3b', '%09', '%0a', '%00', '%2f', '%252f', '%5c', '\uff0f', 'a', 'b', 'admin', '~', '%20', '..;', 'x;y', '%'];
const segment = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 4 }).map((p) => p.join(''));
const hostilePath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((segs) => `/${segs.join('/')}`);

describe('path rules (src/proxy/path-safety.ts)', () => {
  it('every segment it accepts reads, fully decoded and NFKC-normalised, as no dot segment, no `..` prefix and no control character', () => {
    fc.assert(
      fc.property(segment, (seg) => {
        if (!isSafeSegment(seg)) return;
        const s = fullyDecoded(seg);
        expect(s).not.toBeNull();
        const bare = (s as string).split(';')[0];
        expect(bare === '.' || bare === '..').toBe(false);
        expect((s as string).startsWith('..')).toBe(false);
        expect(/[\u0000-\u001f\u007f-\u009f/\\]/.test(s as string)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('an accepted remainder never climbs above its base, however the upstream decodes it', () => {
    fc.assert(
      fc.property(hostilePath, (rest) => {
        if (!isSafeRemainder(rest)) return;
        const resolved = upstreamResolves(rest);
        expect(resolved).not.toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it('plain segments, dots inside names and encoded spaces are forwarded', () => {
    for (const ok of ['/v1/chat/completions', '/a.b/c..d', '/.well-known/x', '/file%20name', '/a/', '/caf%C3%A9', '/x;v=1', '/100%25'])
      expect(isSafeRemainder(ok), ok).toBe(true);
  });
});

describe('hostile paths through the gateway', () => {
  const known = ['/demo/..;/admin', '/demo/%252e%252e/admin', '/demo/..%09/admin', '/demo/%EF%BC%8E%EF%BC%8E/admin', '/demo/\uff0e\uff0e/admin', '/demo/.;/x', '/demo/%2e%2e;x/admin', '/demo/a/%25252e%25252e%25252fadmin', '/demo/x%0d%0aSet-Cookie:a'];
  for (const path of known) {
    it(`refuses ${JSON.stringify(path)} with 400 invalid_path`, async () => {
      const { key } = await createKey();
      const res = await call(path, { headers: bearer(key) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorJson).error.code).toBe('invalid_path');
    });
  }

  it('whatever reaches the upstream stays under the route, read as aggressively as any server would', async () => {
    const { key } = await createKey();
    await fc.assert(
      fc.asyncProperty(hostilePath, async (rest) => {
        const res = await call(`/keep${rest}`, { headers: bearer(key) });
        if (res.status !== 200) {
          expect([400, 404]).toContain(res.status);
          await res.arrayBuffer();
          return;
        }
        const echo = (await res.json()) as Echo;
        const resolved = upstreamResolves(echo.path);
        expect(resolved).not.toBeNull();
        expect((resolved as string[]).slice(0, 2)).toEqual(['base', 'keep']);
      }),
      { numRuns: 60 },
    );
  });
});

describe('a refused request consumes nothing', () => {
  let routes: Record<string, unknown>[] | undefined;
  const env = () => {
    routes ??= [
      {
        path: '/llm',
        upstream: upstreamOrigin(),
        methods: ['GET', 'POST'],
        limits: { rpm: 60, tpm: 20000 },
        budget: { usd: 5, period: 'day' },
        metering: { format: 'auto', default_reservation: 5000 },
      },
    ];
    return testEnv({ ROUTES: routes as never });
  };

  it('POST /llm/a%2fb and /%6Clm/v1/chat/completions are refused with invalid_path and usage stays at 0', async () => {
    const { key } = await createKey();
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5000 });
    for (const path of ['/llm/a%2fb', '/%6Clm/v1/chat/completions']) {
      const res = await call(path, { method: 'POST', headers: bearer(key, { 'content-type': 'application/json' }), body }, { env: env() });
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as ErrorJson).error.code).toBe('invalid_path');
    }
    const sw = await call('/llm/v1/chat/completions', { method: 'POST', headers: bearer(key, { 'service-worker': 'script' }), body }, { env: env() });
    expect(sw.status).toBe(403);
    const usage = (await (await call('/_keygate/usage', { headers: bearer(key) }, { env: env() })).json()) as {
      windows: { name: string; used: number }[];
      budget: { spent_usd: number } | null;
    };
    for (const w of usage.windows) expect(w.used, w.name).toBe(0);
    expect(usage.budget?.spent_usd ?? 0).toBe(0);
  });
});
