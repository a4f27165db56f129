// A hostile or careless upstream's redirect-style headers (Location, Content-Location,
// Refresh, Link) never send a client to the upstream with its key, into keygate's own paths
// or into another route, and cannot stall the isolate.

import fc from 'fast-check';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../src/config/load';
import { redirectTarget } from '../../src/proxy/redirects';
import { bearer, call, createKey, testEnv } from '../harness/gateway';

const api = () => `http://127.0.0.1:${inject('realApiPort')}`;
let routes: Record<string, unknown>[] | undefined;
function env() {
  routes ??= [
    { path: '/api', upstream: api() },
    { path: '/api/private', upstream: 'http://127.0.0.1:9', scopes: ['private'] },
    { path: '/deep', upstream: `${api()}/v2`, strip_prefix: false },
    { path: '/', upstream: `${api()}/rootbase` },
  ];
  return testEnv({ ROUTES: routes as never });
}
const redirectTo = (prefix: string, url: string) => `${prefix}/redirect-to?url=${encodeURIComponent(url)}`;
const respondWith = (h: [string, string][]) => `/api/respond-with?h=${encodeURIComponent(JSON.stringify(h))}`;

describe('redirects that the route cannot follow (src/proxy/redirects.ts)', () => {
  it("a redirect to the upstream's own origin outside the route's base path does not send the client (and its key) to the upstream", async () => {
    const { key } = await createKey();
    for (const url of [`${api()}/secret`, `${api()}/v3/get`, `//127.0.0.1:${inject('realApiPort')}/secret`, '/secret']) {
      const res = await call(redirectTo('/deep/v2', url), { headers: bearer(key) }, { env: env() });
      expect(res.status).toBe(302);
      const location = res.headers.get('location');
      expect(location === null || !location.includes('127.0.0.1')).toBe(true);
      expect(location).toBeNull();
    }
  });

  it("a redirect on a `/` route never lands the client on keygate's /admin or /_keygate", async () => {
    const { key } = await createKey();
    for (const url of [`${api()}/rootbase/admin/keys`, '/rootbase/admin', `${api()}/rootbase/_keygate/usage`]) {
      const res = await call(redirectTo('/x', url), { headers: bearer(key) }, { env: env() });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it("a redirect into a path another route owns is not rewritten into that route", async () => {
    const { key } = await createKey();
    const res = await call(redirectTo('/api', `${api()}/private/data`), { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBeNull();
    // The same upstream's reachable paths still map back through the route.
    const ok = await call(redirectTo('/api', `${api()}/get?x=1`), { headers: bearer(key) }, { env: env() });
    expect(ok.headers.get('location')).toBe('https://gw.test/api/get?x=1');
  });

  it('pagination Link headers that point at the upstream point back through the gateway', async () => {
    const { key } = await createKey();
    const res = await call(respondWith([['link', `<${api()}/items?page=2>; rel="next", <https://docs.example/api>; rel="help"`]]), { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(200);
    expect(res.headers.get('link')).toBe('<https://gw.test/api/items?page=2>; rel="next", <https://docs.example/api>; rel="help"');
    const out = await call(respondWith([['link', `<${api()}/private/x>; rel="next"`]]), { headers: bearer(key) }, { env: env() });
    expect(out.headers.get('link')).toBeNull();
  });

  it("a hostile upstream's very long Refresh header is answered without stalling the isolate", async () => {
    const { key } = await createKey();
    // One long run of spaces inside the URL: quadratic for a backtracking parse.
    const big = JSON.stringify(['refresh', `0;url=${api()}/get`, ' ', 300_000, 'b']);
    const res = await call(`/api/respond-with?big=${encodeURIComponent(big)}`, { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(200);
    await res.text();
  });

  it('no upstream reference is ever rewritten to a reserved path, another route, or the upstream itself', () => {
    const parsed = parseConfig({ ROUTES: [
      { path: '/', upstream: 'http://up.test/b' },
      { path: '/api', upstream: 'http://up.test' },
      { path: '/api/private', upstream: 'http://other.test' },
    ] });
    if (!parsed.ok) throw new Error(parsed.message);
    const config: LoadedConfig = parsed.config;
    const piece = fc.constantFrom('admin', '_keygate', 'api', 'private', 'b', '..', '.', '%2e%2e', 'x', '', '%61dmin', 'ADMIN', '\\', '//');
    const ref = fc.tuple(fc.constantFrom('http://up.test/', '/', '//up.test/', 'http://UP.test:80/', '', '\\\\up.test\\'), fc.array(piece, { maxLength: 5 })).map(([p, s]) => p + s.join('/'));
    fc.assert(
      fc.property(fc.constantFrom(...config.sortedRoutes), ref, (route, r) => {
        const t = redirectTarget(r, route, { url: 'http://up.test/b/api/x', proto: 'https', host: 'gw.test' }, config);
        if (t.kind !== 'gateway') return;
        const u = new URL(t.url, 'https://gw.test');
        expect(u.host).toBe('gw.test');
        expect(u.pathname === '/admin' || u.pathname.startsWith('/admin/') || u.pathname.startsWith('/_keygate')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('redirect paths with empty segments', () => {
  it('an upstream path with `//` on a `/` route is never rewritten into a reference to another host', async () => {
    const { key } = await createKey();
    for (const url of ['/rootbase//evil.example/x', `${api()}/rootbase//evil.example/`, '/rootbase/.//evil.example']) {
      const res = await call(redirectTo('/x', url), { headers: bearer(key) }, { env: env() });
      expect(res.status).toBe(302);
      const location = res.headers.get('location');
      expect(location === null ? null : new URL(location, 'https://gw.test').host).not.toBe('evil.example');
    }
  });
});
