// Paths read by the most lenient decoders still deployed: overlong UTF-8 (`%C0%AE` as `.`),
// IIS's `%uXXXX`, and best-fit code pages that turn `∕` into `/`. A path keygate forwards
// never resolves outside the route's base under any of them, and the refusal consumes nothing.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSafeRemainder } from '../../src/proxy/path-safety';
import { bearer, call, createKey, testEnv, upstreamOrigin, type ErrorJson } from '../harness/gateway';

/** Bytes to text the way a lenient decoder does: overlong sequences become the character they spell. */
function lenientUtf8(bytes: number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i] as number;
    if (b >= 0xc0 && b < 0xe0 && i + 1 < bytes.length) {
      out += String.fromCodePoint(((b & 0x1f) << 6) | ((bytes[i + 1] as number) & 0x3f));
      i += 2;
    } else if (b >= 0xe0 && b < 0xf0 && i + 2 < bytes.length) {
      out += String.fromCodePoint(((b & 0x0f) << 12) | (((bytes[i + 1] as number) & 0x3f) << 6) | ((bytes[i + 2] as number) & 0x3f));
      i += 3;
    } else {
      out += String.fromCharCode(b);
      i += 1;
    }
  }
  return out;
}

function lenientDecodeOnce(s: string): string {
  s = s.replace(/%u([0-9a-f]{4})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  const bytes: number[] = [];
  for (let i = 0; i < s.length; ) {
    if (s[i] === '%' && /^[0-9a-f]{2}$/i.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      for (const b of new TextEncoder().encode(s[i] as string)) bytes.push(b);
      i += 1;
    }
  }
  return lenientUtf8(bytes);
}

/** Null when the path climbs above its root under the lenient reading. */
function lenientResolves(path: string): string[] | null {
  const out: string[] = [];
  for (const raw of path.split('/').slice(1)) {
    let seg = raw;
    for (let i = 0; i < 10 && /%[0-9a-f]{2}|%u[0-9a-f]{4}/i.test(seg); i++) seg = lenientDecodeOnce(seg);
    seg = seg.normalize('NFKC').replace(/[\u2215\u2044\u29f8]/g, '/').replace(/[\u2216\u29f9]/g, '\\');
    for (let part of seg.split(/[/\\]/)) {
      part = part.split(';')[0] as string;
      if (part === '..') {
        if (out.length === 0) return null;
        out.pop();
      } else if (part !== '.' && part !== '') out.push(part);
    }
  }
  return out;
}

const PIECES = ['%C0%AE', '%c0%ae', '%C0%2E', '%E0%80%AE', '%C0%AF', '%C1%9C', '%u002e', '%U002E', '%u2215', '%uFF0E', '%E2%88%95', '%E2%81%84', '%E2%88%96', '.', '%2e', '%252e', 'a', 'admin', ';', '%25C0%25AE'];
const hostilePath = fc.array(fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 4 }).map((p) => p.join('')), { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);

describe('paths under the most lenient decoders (src/proxy/path-safety.ts)', () => {
  it('a path keygate forwards never climbs out of the route under overlong UTF-8, %uXXXX or best-fit slashes', () => {
    fc.assert(
      fc.property(hostilePath, (path) => {
        if (isSafeRemainder(path)) expect(lenientResolves(`/base${path}`)?.[0]).toBe('base');
      }),
      { numRuns: 5000 },
    );
  });

  it('such paths are refused with 400 invalid_path before the key is charged', async () => {
    let routes: Record<string, unknown>[] | undefined;
    routes ??= [{ path: '/lim', upstream: upstreamOrigin(), limits: { rpm: 2 } }];
    const env = testEnv({ ROUTES: routes as never });
    const { key } = await createKey();
    for (const p of ['/lim/%C0%AE%C0%AE/admin', '/lim/%u002e%u002e/admin', '/lim/x/%E0%80%AE%E0%80%AE', '/lim/..%E2%88%95admin', '/lim/%2e%2e%E2%88%95admin', '/lim/a%E2%88%95%2e%2e%E2%88%95%2e%2e']) {
      const res = await call(p, { headers: bearer(key) }, { env });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorJson).error.code).toBe('invalid_path');
    }
    // Latin-1 and ordinary UTF-8 still pass, and the refusals above consumed none of rpm=2.
    expect((await call('/lim/caf%E9', { headers: bearer(key) }, { env })).status).toBe(200);
    expect((await call('/lim/caf%C3%A9', { headers: bearer(key) }, { env })).status).toBe(200);
  });
});
