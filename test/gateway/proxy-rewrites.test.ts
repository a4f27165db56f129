// The proxy's pure rewrites, over generated inputs: redirect URLs map back through the route
// exactly as requests map forward, and removing a key's query parameter keeps every other
// byte of the query.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouteSchema, type Route } from '../../src/config/schema';
import { withoutQueryParam } from '../../src/proxy/query';
import { gatewayUrlFor } from '../../src/proxy/redirects';
import { upstreamUrl } from '../../src/proxy/upstream-url';

const ROUTES: Route[] = [
  RouteSchema.parse({ path: '/api', upstream: 'http://up.test' }),
  RouteSchema.parse({ path: '/api', upstream: 'http://up.test:8080/v1' }),
  RouteSchema.parse({ path: '/keep/deep', upstream: 'https://up.test/base', strip_prefix: false }),
  RouteSchema.parse({ path: '/', upstream: 'http://up.test/v2' }),
];

const seg = fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/).filter((s) => s !== '.' && !s.startsWith('..'));
const rest = fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
const query = fc.option(fc.stringMatching(/^[a-z0-9=&]{1,12}$/), { nil: undefined }).map((q) => (q ? `?${q}` : ''));

describe('redirect rewriting (src/proxy/redirects.ts)', () => {
  it('an upstream URL the route forwards to maps back to the gateway URL it came from, absolute and relative', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ROUTES), rest, query, (route, r, search) => {
        const rawPath = route.path === '/' ? r : route.path + r;
        const forwarded = upstreamUrl(route, rawPath, search);
        expect(forwarded.ok).toBe(true);
        if (!forwarded.ok) return;
        const at = { url: forwarded.url, proto: 'https', host: 'gw.test' };
        expect(gatewayUrlFor(forwarded.url, route, at)).toBe(`https://gw.test${rawPath}${search}`);
        const u = new URL(forwarded.url);
        expect(gatewayUrlFor(u.pathname + u.search, route, at)).toBe(rawPath + search);
      }),
      { numRuns: 500 },
    );
  });

  it('other origins, and upstream paths the route cannot reach, are left alone', () => {
    const [plain, based, keep] = ROUTES as [Route, Route, Route, Route];
    const at = { url: 'http://up.test/x', proto: 'https', host: 'gw.test' };
    expect(gatewayUrlFor('https://elsewhere.test/x', plain, at)).toBeNull();
    expect(gatewayUrlFor('https://up.test/x', plain, at)).toBeNull(); // another scheme is another origin
    expect(gatewayUrlFor('http://up.test:8080/v2/x', based, { ...at, url: 'http://up.test:8080/v1/x' })).toBeNull();
    expect(gatewayUrlFor('/base/other', keep, { ...at, url: 'https://up.test/base/keep/deep/x' })).toBeNull();
    expect(gatewayUrlFor('http://[not-a-host', plain, at)).toBeNull();
  });
});

describe('key query parameter removal (src/proxy/query.ts)', () => {
  const piece = fc.constantFrom('a', 'b', '%20', '+', '/', '~', ';', '%2F', '%C3%A9', '', '=', '%', '!', "'", '(', '*');
  const name = fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join('')).filter((n) => !n.includes('=') && !n.includes('&'));
  const pair = fc.tuple(name, fc.option(fc.array(piece, { maxLength: 4 }).map((p) => p.join('')), { nil: undefined })).map(([n, v]) => (v === undefined ? n : `${n}=${v}`));
  const keySpelling = fc.constantFrom('key=SECRET', 'k%65y=SECRET', '%6B%65%79=SECRET', 'key=', 'key');

  it('removes every pair URLSearchParams reads as the key, and keeps every other byte in order', () => {
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 6 }), fc.array(fc.tuple(fc.nat(6), keySpelling), { minLength: 1, maxLength: 3 }), (pairs, inserts) => {
        const others = pairs.filter((p) => new URLSearchParams(p).has('key') === false);
        const all = [...others];
        for (const [at, k] of inserts) all.splice(Math.min(at, all.length), 0, k);
        const out = withoutQueryParam(`?${all.join('&')}`, 'key');
        expect(out).toBe(others.length ? `?${others.join('&')}` : '');
        expect(new URLSearchParams(out).has('key')).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('a query without the key is returned unchanged, byte for byte', () => {
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 6 }), (pairs) => {
        const search = `?${pairs.join('&')}`;
        if (new URLSearchParams(search).has('key')) return;
        expect(withoutQueryParam(search, 'key')).toBe(search);
      }),
    );
  });
});
