// The key a client presents never reaches the upstream: not in a second header, not joined
// with other values into one header, not on a preflight passed to the upstream.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { call, createKey, testEnv, upstreamOrigin } from '../harness/gateway';

let routes: Record<string, unknown>[] | undefined;
function env() {
  routes ??= [
    { path: '/custom', upstream: upstreamOrigin(), key_headers: ['x-custom-key'] },
    { path: '/pf', upstream: upstreamOrigin(), preflight: 'upstream', key_headers: ['x-custom-key'] },
  ];
  return testEnv({ ROUTES: routes as never });
}

describe('the presented key never reaches the upstream', () => {
  it('in no header, however the client repeats, combines or spreads it', async () => {
    const { key } = await createKey();
    const spelling = fc.constantFrom(`Bearer ${key}`, key, `Bearer ${key}, Basic YTpi`, `Basic YTpi, Bearer ${key}`, `${key}, ${key}`, ` ${key} `, `bearer\t${key}`, `session=${key}`);
    const carrier = fc.constantFrom('authorization', 'x-api-key', 'x-custom-key', 'x-other', 'cookie', 'x-api-key-2');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('authorization', 'x-api-key', 'x-custom-key'), fc.uniqueArray(fc.tuple(carrier, spelling), { selector: ([n]) => n, maxLength: 3 }), async (by, extra) => {
        const headers = new Headers();
        for (const [name, value] of extra) headers.append(name, value);
        // The one clean credential keygate authenticates with, added last so it may join a
        // value of the same name.
        headers.append(by, by === 'authorization' ? `Bearer ${key}` : key);
        const res = await call('/custom/echo', { headers }, { env: env() });
        const text = await res.text();
        if (res.status === 401) return; // a combined value is no key: refused, nothing forwarded
        expect(res.status).toBe(200);
        expect(text).not.toContain(key);
      }),
      { numRuns: 60 },
    );
  });

  it('on a preflight passed to the upstream (preflight = "upstream") a key the client sends along is not forwarded', async () => {
    const { key } = await createKey();
    const res = await call('/pf/anything', { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST', origin: 'https://app.example', 'x-api-key': key, 'x-custom-key': key, authorization: `Bearer ${key}` } }, { env: env() });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('OPTIONS');
    expect(text).not.toContain(key);
  });

  it('a preflight passed to the upstream without a key carries no body to it', async () => {
    const res = await call('/pf/anything', { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST', origin: 'https://app.example', 'content-type': 'text/plain' }, body: 'unauthenticated upload' }, { env: env() });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('OPTIONS');
    expect(text).not.toContain('unauthenticated upload');
  });
});

describe('headers an upstream could read as a proxy speaking', () => {
  it('a client `Proxy:` header (httpoxy: CGI turns it into HTTP_PROXY) and authenticating-proxy identity headers never reach the upstream', async () => {
    const { key } = await createKey();
    const spoofed = { proxy: 'http://evil.example:3128', 'proxy-anything': 'x', x_remote_user: 'root', 'x-remote-user': 'root', 'x-webauth-user': 'admin', 'x-auth-request-email': 'ceo@example.com', 'remote-user': 'root', 'x-original-host': 'internal', 'client-ip': '10.0.0.1' };
    const res = await call('/custom/echo', { headers: { 'x-custom-key': key, 'x-harmless': 'kept', ...spoofed } }, { env: env() });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('x-harmless');
    for (const v of ['evil.example', 'root', 'ceo@example.com', 'internal', '10.0.0.1', '"proxy-anything"']) expect(text).not.toContain(v);
  });
});

describe("the upstream's own secret stays with keygate", () => {
  it('TRACE is refused before it reaches the upstream (a TRACE-enabled server would echo the upstream_auth secret to the key holder)', async () => {
    const e = testEnv({ ROUTES: [{ path: '/secret', upstream: upstreamOrigin(), upstream_auth: { header: 'authorization', secret: 'UPSTREAM_TOKEN', prefix: 'Bearer ' }, limits: { rpm: 1 } }] as never });
    const { key } = await createKey();
    for (const method of ['TRACE', 'trace', 'Trace']) {
      const res = await call('/secret/echo', { method, headers: { 'x-api-key': key } }, { env: e });
      expect(res.status).toBe(405);
      const text = await res.text();
      expect(text).toContain('method_not_allowed');
      expect(text).not.toContain('upstream-secret');
    }
    // Refused before the limits: rpm=1 still has its one request.
    expect((await call('/secret/echo', { headers: { 'x-api-key': key } }, { env: e })).status).toBe(200);
  });
});

describe('scopes', () => {
  it('a read-only key cannot upload a body with OPTIONS (a safe method, allowed by `read`)', async () => {
    const { key } = await createKey({ scopes: ['read'] });
    const res = await call('/custom/echo', { method: 'OPTIONS', headers: { 'x-custom-key': key, 'content-type': 'application/json' }, body: '{"create":"item"}' }, { env: env() });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('OPTIONS');
    expect(text).not.toContain('create');
    // The same body with POST needs `write`.
    expect((await call('/custom/echo', { method: 'POST', headers: { 'x-custom-key': key }, body: '{"create":"item"}' }, { env: env() })).status).toBe(403);
  });
});
