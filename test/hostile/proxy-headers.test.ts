// Hostile headers, both ways: a client cannot make the upstream believe something about
// identity, address, original URL or method; a hostile upstream cannot plant a service
// worker over the gateway's origin; keygate's own paths and request id are never the
// client's to choose.

import fc from 'fast-check';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { isUntrustedRequestHeader, UNTRUSTED_REQUEST_HEADERS } from '../../src/proxy/headers';
import { ADMIN_TOKEN, bearer, call, createKey, testEnv, upstreamOrigin, type Echo, type ErrorJson } from '../harness/gateway';

const NAMED = [
  ...UNTRUSTED_REQUEST_HEADERS.filter((n) => n !== 'host'),
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-prefix',
  'x-forwarded-groups',
  'x-gateway-owner',
  'x-gateway-key-id',
  'x-gateway-anything',
];

/** A reserved name as a client might spell it: any mix of `-` and `_`. */
const spelled = fc
  .tuple(fc.constantFrom(...NAMED), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))
  .map(([name, flips]) => {
    let i = 0;
    return name.replace(/-/g, () => (flips[i++ % flips.length] ? '_' : '-'));
  });
const forwardedFamily = fc.stringMatching(/^[a-z0-9]{1,12}$/).map((s) => `x-forwarded-${s}`);
const TOKEN = /^[a-z0-9][a-z0-9!#$%&'*+.^_`|~-]{0,24}$/;

describe('client identity-style headers (src/proxy/headers.ts)', () => {
  it('every spelling of a reserved name, and every x-forwarded-* name, is dropped', () => {
    fc.assert(
      fc.property(fc.oneof(spelled, forwardedFamily), (name) => {
        expect(isUntrustedRequestHeader(name)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("a name that is not reserved however `_` is read passes (the client's own headers reach the upstream)", () => {
    fc.assert(
      fc.property(fc.stringMatching(TOKEN), (name) => {
        const dashed = name.replaceAll('_', '-');
        const reserved =
          NAMED.includes(dashed) || ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings', 'host'].includes(dashed) ||
          dashed.startsWith('x-forwarded-') ||
          dashed.startsWith('proxy-') ||
          dashed.startsWith('x-gateway-') ||
          (dashed === 'x-request-id' && name !== 'x-request-id');
        expect(isUntrustedRequestHeader(name)).toBe(reserved);
      }),
      { numRuns: 3000 },
    );
  });

  it('none of them reaches the upstream, sent together with harmless headers that do', async () => {
    const { key } = await createKey({ owner: 'team-a' });
    await fc.assert(
      // cf-connecting-ip is left out here: in production Cloudflare sets it, and in tests the
      // client's value stands in for the real address keygate forwards as x-forwarded-for.
      fc.asyncProperty(fc.uniqueArray(fc.oneof(spelled, forwardedFamily).filter((n) => n !== 'cf-connecting-ip'), { minLength: 1, maxLength: 6 }), async (names) => {
        const headers: Record<string, string> = { 'x-harmless': 'yes' };
        for (const n of names) headers[n] = 'spoofed-value';
        const res = await call('/demo/whoami', { method: 'POST', headers: bearer(key, headers), body: 'x' });
        const echo = (await res.json()) as Echo;
        expect(echo.headers['x-harmless']).toBe('yes');
        expect(JSON.stringify(echo.headers)).not.toContain('spoofed-value');
        expect(echo.headers['x-gateway-owner']).toBe('team-a');
      }),
      { numRuns: 40 },
    );
  });

  it('method-override headers never reach the upstream', async () => {
    const { key } = await createKey();
    const echo = (await (
      await call('/demo/x', { method: 'POST', headers: bearer(key, { 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE', 'x-http-method': 'DELETE', x_http_method_override: 'DELETE' }), body: '' })
    ).json()) as Echo;
    expect(echo.method).toBe('POST');
    expect(JSON.stringify(echo.headers)).not.toContain('DELETE');
  });
});

describe('service workers (a hostile upstream must not take over the gateway origin)', () => {
  let routes: Record<string, unknown>[] | undefined;
  const api = () => `http://127.0.0.1:${inject('realApiPort')}`;
  const env = () => {
    routes ??= [
      { path: '/api', upstream: api() },
      { path: '/sw-ok', upstream: api(), allow_service_worker: true },
    ];
    return testEnv({ ROUTES: routes as never });
  };

  it('strips Service-Worker-Allowed from proxied responses', async () => {
    const { key } = await createKey();
    const res = await call('/sw-ok/sw.js', { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(200);
    expect(res.headers.get('service-worker-allowed')).toBeNull();
  });

  it('refuses a service-worker script fetch unless the route allows it', async () => {
    const { key } = await createKey();
    const refused = await call('/api/sw.js', { headers: bearer(key, { 'service-worker': 'script' }) }, { env: env() });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as ErrorJson).error.code).toBe('forbidden');
    const allowed = await call('/sw-ok/sw.js', { headers: bearer(key, { 'service-worker': 'script' }) }, { env: env() });
    expect(allowed.status).toBe(200);
  });
});

describe("keygate's own paths and ids", () => {
  let routes: Record<string, unknown>[] | undefined;
  const env = () => {
    routes ??= [{ path: '/', upstream: upstreamOrigin() }];
    return testEnv({ ROUTES: routes as never });
  };

  it('with a `/` route, unknown /_keygate and /admin paths answer 404 and never reach the upstream', async () => {
    const { key } = await createKey({}, { env: env() });
    for (const path of ['/_keygate/nope', '/_keygate', '/%5Fkeygate/nope']) {
      const res = await call(path, { headers: bearer(key) }, { env: env() });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as ErrorJson).error.code, path).toMatch(/not_found/);
    }
    // /admin answers for itself: a key holder is refused, the admin gets a 404.
    const asHolder = await call('/admin/nope', { headers: bearer(key) }, { env: env() });
    expect(asHolder.status).toBe(403);
    const asAdmin = await call('/admin/nope', { headers: bearer(ADMIN_TOKEN) }, { env: env() });
    expect(asAdmin.status).toBe(404);
    // The route itself still proxies.
    expect((await call('/anything', { headers: bearer(key) }, { env: env() })).status).toBe(200);
  });

  it("x-gateway-request-id is always keygate's own, on the upstream request and on the response", async () => {
    const { key } = await createKey();
    const res = await call('/demo/x', { headers: bearer(key, { 'x-gateway-request-id': 'forged', 'x-request-id': 'corr-1' }) });
    const echo = (await res.json()) as Echo;
    expect(echo.headers['x-gateway-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get('x-gateway-request-id')).toBe(echo.headers['x-gateway-request-id']);
    expect(echo.headers['x-request-id']).toBe('corr-1');
  });
});
