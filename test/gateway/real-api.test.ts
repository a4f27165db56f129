// keygate in front of an API that behaves like widely used public ones
// (test/harness/real-api-upstream.mjs): uploads with Expect, redirects, the upstream's own
// credentials, its own Server-Timing and X-Request-Id, CORS for browsers, hop-by-hop
// headers, and query strings kept byte for byte.

import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { bearer, call, createKey, testEnv, type ErrorJson } from '../harness/gateway';
import { awayFromMinuteEdge } from '../limits/stores';

const api = () => `http://127.0.0.1:${inject('realApiPort')}`;
const PAGE_ORIGIN = 'https://app.example';

let routes: Record<string, unknown>[] | undefined;
function env() {
  routes ??= [
    { path: '/api', upstream: api() },
    { path: '/limited', upstream: api(), limits: { rpm: 1000 } },
    { path: '/deep', upstream: `${api()}/v2`, strip_prefix: false },
    { path: '/keyq', upstream: api(), key_query_param: 'key' },
    { path: '/web', upstream: api(), methods: ['GET', 'POST'], cors: { origins: [PAGE_ORIGIN], expose_headers: ['x-upstream-thing'] }, limits: { rpm: 2 } },
    { path: '/creds', upstream: api(), cors: { origins: [PAGE_ORIGIN], credentials: true, max_age: 60, headers: ['authorization', 'content-type'] } },
    { path: '/passthrough', upstream: api(), preflight: 'upstream' },
  ];
  return testEnv({ ROUTES: routes as never });
}

interface Seen {
  method: string;
  path: string;
  raw_query: string;
  headers: Record<string, string>;
}

describe('uploads with Expect: 100-continue (curl over 1 MiB, or -T -)', () => {
  it('a curl-style upload with Expect: 100-continue arrives whole and answers 200', async () => {
    const { key } = await createKey();
    const body = new Uint8Array(1024 * 1024 + 17).map((_, i) => i % 251);
    const res = await call('/api/upload', { method: 'POST', headers: bearer(key, { expect: '100-continue', 'content-type': 'application/octet-stream' }), body }, { env: env() });
    expect(res.status).toBe(200);
    const got = (await res.json()) as { bytes: number; expect: string | null };
    expect(got.bytes).toBe(body.length);
    // Handled at the gateway: the upstream never sees the client's connection-level expectation.
    expect(got.expect).toBeNull();
  });

  it('a small PUT with Expect passes too, and on a limited route each upload counts once', async () => {
    const { key } = await createKey();
    await awayFromMinuteEdge();
    for (let i = 0; i < 3; i++) {
      const res = await call('/limited/put', { method: 'PUT', headers: bearer(key, { expect: '100-continue' }), body: 'x'.repeat(10) }, { env: env() });
      expect(res.status).toBe(200);
    }
    const usage = (await (await call('/_keygate/usage', { headers: bearer(key) }, { env: env() })).json()) as { windows: { name: string; used: number }[] };
    expect(usage.windows.find((w) => w.name.includes('rpm'))?.used).toBe(3);
  });
});

describe('redirects stay on the gateway', () => {
  it('a relative redirect keeps the route prefix, so following it reaches the upstream again', async () => {
    const { key } = await createKey();
    const res = await call('/api/relative-redirect/2', { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/api/relative-redirect/1');
    // Follow as a client would: resolve against the gateway URL it called.
    const next = new URL(res.headers.get('location')!, 'https://gw.test/api/relative-redirect/2');
    const second = await call(next.pathname, { headers: bearer(key) }, { env: env() });
    expect(second.headers.get('location')).toBe('/api/get');
    const last = await call('/api/get', { headers: bearer(key) }, { env: env() });
    expect(last.status).toBe(200);
  });

  it("an absolute redirect to the upstream becomes the gateway's URL, never the upstream's", async () => {
    const { key } = await createKey();
    const res = await call('/api/absolute-redirect/2', { headers: { 'x-api-key': key } }, { env: env() });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://gw.test/api/absolute-redirect/1');
    expect(res.headers.get('location')).not.toContain('127.0.0.1');
  });

  it('redirects to other origins are left alone', async () => {
    const { key } = await createKey();
    const res = await call(`/api/redirect-to?url=${encodeURIComponent('https://elsewhere.example/x?y=1')}`, { headers: bearer(key) }, { env: env() });
    expect(res.headers.get('location')).toBe('https://elsewhere.example/x?y=1');
  });

  it('Content-Location and Refresh pointing at the upstream are rewritten as well', async () => {
    const { key } = await createKey();
    const created = await call('/api/created', { method: 'POST', headers: bearer(key), body: '{}' }, { env: env() });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/items/42');
    expect(created.headers.get('content-location')).toBe('https://gw.test/api/items/42');
    const refresh = await call('/api/refresh', { headers: bearer(key) }, { env: env() });
    expect(refresh.headers.get('refresh')).toBe('0; url=https://gw.test/api/get');
  });

  it('with strip_prefix off and an upstream base path, a redirect maps back through the route', async () => {
    const { key } = await createKey();
    const to = `${api()}/v2/deep/next?a=1`;
    const res = await call(`/deep/redirect-to?url=${encodeURIComponent(to)}`, { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://gw.test/deep/next?a=1');
    // Outside the route's reach (not under /v2/deep): removed, so the client is never sent
    // to the upstream itself with its key.
    const outside = `${api()}/v2/other`;
    const res2 = await call(`/deep/redirect-to?url=${encodeURIComponent(outside)}`, { headers: bearer(key) }, { env: env() });
    expect(res2.headers.get('location')).toBeNull();
  });
});

describe("the upstream's own credentials", () => {
  const basic = `Basic ${btoa('alice:wonderland')}`;

  it('Authorization: Basic reaches the upstream when the key came in x-api-key', async () => {
    const { key } = await createKey();
    const res = await call('/api/basic-auth/alice/wonderland', { headers: { 'x-api-key': key, authorization: basic } }, { env: env() });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ authenticated: true, user: 'alice' });
  });

  it('the header that carried the key is removed, and only that one', async () => {
    const { key } = await createKey();
    const viaBearer = (await (await call('/api/anything', { headers: bearer(key, { 'x-api-key': 'upstream-own-key' }) }, { env: env() })).json()) as Seen;
    expect(viaBearer.headers.authorization).toBeUndefined();
    expect(viaBearer.headers['x-api-key']).toBe('upstream-own-key');
    const viaHeader = (await (await call('/api/anything', { headers: { 'x-api-key': key, authorization: 'Bearer upstream-token' } }, { env: env() })).json()) as Seen;
    expect(viaHeader.headers['x-api-key']).toBeUndefined();
    expect(viaHeader.headers.authorization).toBe('Bearer upstream-token');
    // The same key in both headers: neither copy leaves the gateway.
    const both = (await (await call('/api/anything', { headers: bearer(key, { 'x-api-key': key }) }, { env: env() })).json()) as Seen;
    expect(JSON.stringify(both)).not.toContain(key);
  });
});

describe("the upstream's own response headers", () => {
  it("keeps the upstream's Server-Timing and X-Request-Id and adds keygate's beside them", async () => {
    const { key } = await createKey();
    const res = await call('/api/server-timing', { headers: bearer(key) }, { env: env() });
    const timing = res.headers.get('server-timing') ?? '';
    expect(timing.startsWith('db;dur=12.5, app;desc="render";dur=3, ')).toBe(true);
    expect(timing).toMatch(/upstream;dur=/);
    expect(res.headers.get('x-request-id')).toBe('upstream-req-7');
    expect(res.headers.get('x-gateway-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
  });
});

describe('hop-by-hop request headers', () => {
  it('never forwards the hop-by-hop set, whatever Connection says', async () => {
    const { key } = await createKey();
    const res = await call('/api/anything', {
      headers: bearer(key, { 'keep-alive': 'timeout=5', te: 'trailers', 'proxy-authorization': 'Basic eDp5', 'proxy-connection': 'keep-alive', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__', expect: '100-continue' }),
    }, { env: env() });
    const seen = (await res.json()) as Seen;
    for (const name of ['keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade', 'http2-settings', 'expect']) expect(seen.headers[name], name).toBeUndefined();
  });
});

describe('key_query_param removal keeps every other byte of the query', () => {
  const raw = 'q=a%20b&flag&path=/x/y~z;w&plus=a+b&key=KEY&empty=&utf=%C3%A9&key=KEY';

  it('removes only the key parameter, in every copy, and leaves the rest as sent', async () => {
    const { key } = await createKey();
    const res = await call(`/keyq/anything?${raw.replaceAll('KEY', key)}`, {}, { env: env() });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as Seen;
    expect(seen.raw_query).toBe('q=a%20b&flag&path=/x/y~z;w&plus=a+b&empty=&utf=%C3%A9');
  });
});

describe('CORS for browser pages (route `cors`)', () => {
  const preflight = (path: string, origin: string, method = 'POST') =>
    call(path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' } }, { env: env() });

  it('answers a preflight itself, without a key, for an allowed origin', async () => {
    const res = await preflight('/web/anything', PAGE_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('refuses a preflight from an origin the route does not list, with no CORS headers', async () => {
    const res = await preflight('/web/anything', 'https://evil.example');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const wrongMethod = await preflight('/web/anything', PAGE_ORIGIN, 'DELETE');
    expect(wrongMethod.status).toBe(403);
  });

  it('puts the CORS headers on every response of the route, 401 and 429 included', async () => {
    const unauth = await call('/web/anything', { headers: { origin: PAGE_ORIGIN } }, { env: env() });
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    const { key } = await createKey();
    await awayFromMinuteEdge(); // the third request must land in the minute of the first two (rpm 2)
    const ok = await call('/web/anything', { headers: bearer(key, { origin: PAGE_ORIGIN }) }, { env: env() });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(ok.headers.get('access-control-expose-headers')).toContain('x-upstream-thing');
    expect(ok.headers.get('access-control-expose-headers')).toContain('retry-after');
    expect(ok.headers.get('vary')).toContain('Origin');
    await call('/web/anything', { headers: bearer(key, { origin: PAGE_ORIGIN }) }, { env: env() });
    const limited = await call('/web/anything', { headers: bearer(key, { origin: PAGE_ORIGIN }) }, { env: env() });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(((await limited.json()) as ErrorJson).error.code).toBe('rate_limited');
  });

  it('credentials and max_age are sent as configured', async () => {
    const res = await preflight('/creds/x', PAGE_ORIGIN, 'GET');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-max-age')).toBe('60');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
  });

  it('a preflight on a route without cors is refused with 401 as before', async () => {
    const res = await preflight('/api/anything', PAGE_ORIGIN);
    expect(res.status).toBe(401);
  });

  it('preflight = "upstream" passes a preflight to the upstream without a key or identity headers', async () => {
    const res = await preflight('/passthrough/anything', PAGE_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get('x-upstream-saw-options')).toBe('1');
    expect(res.headers.get('x-upstream-saw-key-id')).toBe('');
    // A plain OPTIONS (no Access-Control-Request-Method) still needs a key.
    expect((await call('/passthrough/anything', { method: 'OPTIONS' }, { env: env() })).status).toBe(401);
  });
});
