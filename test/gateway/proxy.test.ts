import { describe, expect, it } from 'vitest';
import { bearer, call, callDeferred, createKey, type Echo, type ErrorJson } from '../harness/gateway';

describe('proxying to the upstream', () => {
  it('forwards method, path, query and body to the route upstream with the prefix stripped', async () => {
    const { key } = await createKey();
    const res = await call('/demo/v1/items?x=1&y=two', { method: 'POST', headers: bearer(key, { 'content-type': 'text/plain' }), body: 'hello' });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo).toMatchObject({ method: 'POST', path: '/v1/items', query: 'x=1&y=two', body: 'hello' });
  });

  it('keeps the prefix and prepends the upstream base path when strip_prefix is false', async () => {
    const { key } = await createKey();
    const echo = (await (await call('/keep/a/b', { headers: bearer(key) })).json()) as Echo;
    expect(echo.path).toBe('/base/keep/a/b');
  });

  it('removes the client credential and never forwards it upstream', async () => {
    const { key } = await createKey();
    const viaBearer = (await (await call('/demo/x', { headers: bearer(key) })).json()) as Echo;
    expect(viaBearer.headers.authorization).toBeUndefined();
    const viaHeader = (await (await call('/demo/x', { headers: { 'x-api-key': key } })).json()) as Echo;
    expect(viaHeader.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(viaHeader)).not.toContain(key);
  });

  it('removes a key sent in an enabled query parameter before forwarding', async () => {
    const { key } = await createKey({ scopes: ['reports'] });
    const echo = (await (await call(`/custom/r?api_key=${key}&page=2`)).json()) as Echo;
    expect(echo.query).toBe('page=2');
    expect(JSON.stringify(echo)).not.toContain(key);
  });

  it('refuses keys in the query string unless the route turns that on', async () => {
    const { key } = await createKey();
    const res = await call(`/demo/x?api_key=${key}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as ErrorJson).error.code).toBe('missing_key');
  });

  it('attaches identity headers and drops spoofed x-gateway-* headers from the client', async () => {
    const { key, id } = await createKey({ owner: 'team-a', type: 'service', scopes: ['read', 'write'] });
    const res = await call('/demo/whoami', {
      headers: bearer(key, {
        'x-gateway-key-id': 'key_SPOOFED',
        'x-gateway-owner': 'root',
        'X-Gateway-Admin': 'true',
        'x-forwarded-for': '6.6.6.6',
        'cf-connecting-ip': '203.0.113.7',
      }),
    });
    const echo = (await res.json()) as Echo;
    expect(echo.headers['x-gateway-key-id']).toBe(id);
    expect(echo.headers['x-gateway-owner']).toBe('team-a');
    expect(echo.headers['x-gateway-key-type']).toBe('service');
    expect(echo.headers['x-gateway-scopes']).toBe('read write');
    expect(echo.headers['x-gateway-admin']).toBeUndefined();
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.7');
    expect(echo.headers['x-gateway-request-id']).toBe(res.headers.get('x-request-id'));
  });

  it('sends the configured upstream credential instead of the client one', async () => {
    const { key } = await createKey();
    const echo = (await (await call('/secret-upstream/v1', { headers: bearer(key) })).json()) as Echo;
    expect(echo.headers.authorization).toBe('Bearer upstream-secret');
  });

  it("removes the upstream's hop-by-hop response headers, including those its Connection names", async () => {
    const { key } = await createKey();
    const res = await call('/demo/hop-headers', { headers: bearer(key) });
    expect(res.status).toBe(200);
    for (const name of ['connection', 'keep-alive', 'proxy-authenticate', 'trailer', 'x-hop-secret']) expect(res.headers.get(name), name).toBeNull();
    expect(res.headers.get('x-kept')).toBe('yes');
    expect(await res.json()).toEqual({ hop: true });
    // A Connection value that is not a list of field names must not break the response.
    const odd = await call(`/demo/hop-headers?connection=${encodeURIComponent('keep-alive, not a token, x-hop-secret')}`, { headers: bearer(key) });
    expect(odd.status).toBe(200);
    expect(odd.headers.get('x-hop-secret')).toBeNull();
    expect(odd.headers.get('x-kept')).toBe('yes');
  });

  it("gives every response keygate's own request id; a client's x-request-id never replaces it", async () => {
    const refused = await call('/demo/x', { headers: { 'x-request-id': 'trace-123' } });
    const refusedId = ((await refused.json()) as ErrorJson).error.request_id;
    expect(refusedId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(refused.headers.get('x-request-id')).toBe(refusedId);
    expect(refused.headers.get('x-gateway-request-id')).toBe(refusedId);
    const { key } = await createKey();
    const forwarded = await call('/demo/x', { headers: bearer(key, { 'x-request-id': 'trace-123' }) });
    const echo = (await forwarded.json()) as Echo;
    // Forwarded as the client's correlation id, beside keygate's own.
    expect(echo.headers['x-request-id']).toBe('trace-123');
    expect(echo.headers['x-gateway-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    expect(forwarded.headers.get('x-gateway-request-id')).toBe(echo.headers['x-gateway-request-id']);
    const res = await call('/demo/x', { headers: bearer(key) });
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const ids = new Set<string | null>();
    for (let i = 0; i < 20; i++) ids.add((await call('/demo/x', { headers: bearer(key) })).headers.get('x-request-id'));
    expect(ids.size).toBe(20);
  });

  it('streams a slow upstream response to the client chunk by chunk', async () => {
    const { key } = await createKey();
    const { res } = await callDeferred('/demo/slow-stream?chunks=4&interval_ms=150', { headers: bearer(key) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const arrivals: { at: number; text: string }[] = [];
    const started = Date.now();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivals.push({ at: Date.now() - started, text: decoder.decode(value) });
    }
    const text = arrivals.map((a) => a.text).join('');
    expect(text.trim().split('\n')).toHaveLength(4);
    // Chunks arrive as the upstream sends them: the first long before the last.
    expect(arrivals.length).toBeGreaterThan(1);
    expect(arrivals[0]!.text.trim().split('\n')).toHaveLength(1);
    expect(arrivals[arrivals.length - 1]!.at - arrivals[0]!.at).toBeGreaterThan(300);
  });

  it('streams the request body to the upstream', async () => {
    const { key } = await createKey();
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 50; i++) controller.enqueue(encoder.encode(`part-${i};`));
        controller.close();
      },
    });
    const res = await call('/demo/echo-body', { method: 'POST', headers: bearer(key, { 'content-type': 'text/plain' }), body, duplex: 'half' } as RequestInit);
    expect(await res.text()).toBe(Array.from({ length: 50 }, (_, i) => `part-${i};`).join(''));
  });

  it('answers 502 upstream_unavailable when the upstream cannot be reached', async () => {
    const { key } = await createKey();
    const res = await call('/nowhere/x', { headers: bearer(key) });
    expect(res.status).toBe(502);
    expect(((await res.json()) as ErrorJson).error.code).toBe('upstream_unavailable');
  });

  it('answers 504 upstream_timeout when the upstream is slower than the route timeout', async () => {
    const { key } = await createKey();
    const res = await call('/fast/delay?ms=1500', { headers: bearer(key) });
    expect(res.status).toBe(504);
    expect(((await res.json()) as ErrorJson).error.code).toBe('upstream_timeout');
  });

  it('passes upstream error statuses through untouched', async () => {
    const { key } = await createKey();
    const res = await call('/demo/status/418', { headers: bearer(key) });
    expect(res.status).toBe(418);
  });
});

describe('path containment', () => {
  const escapes = ['/demo//etc/passwd', '/demo/a/%2e%2e%2f%2e%2e/admin', '/demo/%2e%2e/admin', '/demo/a%2fb', '/demo/a%5cb', '/demo/a\\..\\b', '/demo/.%2e/x', '/demo/%00'];
  for (const path of escapes) {
    it(`never forwards ${JSON.stringify(path)} outside the route prefix`, async () => {
      const { key } = await createKey();
      const res = await call(path, { headers: bearer(key) });
      if (res.status === 200) {
        // Normalised by the URL parser to a path still under the prefix: check what arrived.
        const echo = (await res.json()) as Echo;
        expect(echo.path.startsWith('/admin')).toBe(false);
        expect(echo.path).not.toMatch(/\.\.|\/\/|%2f|%5c|\\/i);
      } else {
        // Refused by the gateway itself (invalid_path), or normalised by the URL parser onto
        // another gateway path (e.g. /admin, where this non-admin key is refused).
        const body = (await res.json()) as ErrorJson;
        expect(['invalid_path', 'route_not_found', 'forbidden']).toContain(body.error.code);
      }
    });
  }

  it('resolves dot segments before routing, so /demo/../x does not match /demo', async () => {
    const { key } = await createKey();
    const res = await call('/demo/../elsewhere', { headers: bearer(key) });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorJson).error.code).toBe('route_not_found');
  });

  it('does not match a route on a partial segment (/demox is not /demo)', async () => {
    const res = await call('/demox/a');
    expect(res.status).toBe(404);
  });
});
