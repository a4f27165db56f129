import { afterEach, describe, expect, it, vi } from 'vitest';
import { ERRORS, errorResponse, type ErrorCode } from '../src/errors';
import { generateKey } from '../src/keys/key-format';
import { admin, bearer, call, createKey, testEnv, upstreamOrigin, type ErrorJson } from './harness/gateway';
import { awayFromMinuteEdge } from './limits/stores';

// The statuses clients are promised. A change here is a breaking API change: make it on purpose.
const EXPECTED_STATUS: Partial<Record<ErrorCode, number>> = {
  bad_request: 400,
  validation_failed: 400,
  invalid_json: 400,
  invalid_path: 400,
  missing_key: 401,
  invalid_key: 401,
  key_revoked: 401,
  key_expired: 401,
  unauthorized: 401,
  budget_exhausted: 402,
  key_inactive: 403,
  ip_not_allowed: 403,
  referer_not_allowed: 403,
  insufficient_scope: 403,
  forbidden: 403,
  route_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  config_invalid: 500,
  upstream_unavailable: 502,
  store_unavailable: 503,
  upstream_timeout: 504,
};

const CODES = Object.keys(ERRORS) as ErrorCode[];

/** Checks the one error shape and returns the body. */
async function expectError(res: Response, code: ErrorCode): Promise<ErrorJson['error']> {
  const text = await res.text();
  expect(res.status, text).toBe(ERRORS[code].status);
  const body = JSON.parse(text) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  const keys = Object.keys(body.error).sort();
  expect(keys.filter((k) => k !== 'details')).toEqual(['code', 'message', 'request_id']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect((body.error.message as string).length).toBeGreaterThan(0);
  expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
  expect(res.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  if (res.status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="keygate(-admin)?"/);
  else expect(res.headers.get('www-authenticate')).toBeNull();
  return body.error as ErrorJson['error'];
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('the error table', () => {
  it('maps every error code to its documented HTTP status', () => {
    for (const [code, status] of Object.entries(EXPECTED_STATUS)) {
      expect(ERRORS[code as ErrorCode]?.status, code).toBe(status);
    }
    for (const code of CODES) {
      expect(ERRORS[code].status, code).toBeGreaterThanOrEqual(400);
      expect(ERRORS[code].status, code).toBeLessThan(600);
      expect(code).toMatch(/^[a-z]+(?:_[a-z]+)*$/);
      expect(ERRORS[code].message).toMatch(/^[A-Z].*\.$/);
    }
  });

  it('renders every code as {"error": {code, message, request_id}} with JSON and no-store headers', async () => {
    for (const code of CODES) {
      const res = errorResponse(code, 'req_TEST');
      const error = await expectError(res, code);
      expect(error).toEqual({ code, message: ERRORS[code].message, request_id: 'req_TEST' });
      expect(res.headers.get('x-request-id')).toBe('req_TEST');
    }
  });

  it('adds details only when given and lets a caller override the message', async () => {
    const res = errorResponse('validation_failed', 'req_1', 'Invalid body: name', { details: [{ path: 'name', message: 'bad' }] });
    expect(await res.json()).toEqual({
      error: { code: 'validation_failed', message: 'Invalid body: name', request_id: 'req_1', details: [{ path: 'name', message: 'bad' }] },
    });
  });

  it('tells 401 clients how to authenticate: the admin realm for admin, invalid_token for keys', () => {
    for (const code of CODES.filter((c) => ERRORS[c].status === 401)) {
      const header = errorResponse(code, 'r').headers.get('www-authenticate');
      if (code === 'unauthorized') expect(header).toBe('Bearer realm="keygate-admin"');
      else expect(header).toBe('Bearer realm="keygate", error="invalid_token"');
    }
  });

  it('keeps the OpenAPI document consistent with the table: each listed code under its own status', async () => {
    const doc = (await (await admin('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
    };
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          for (const code of response.description.split(', ')) {
            expect(CODES, `${method} ${path} ${status}`).toContain(code);
            expect(ERRORS[code as ErrorCode].status, `${method} ${path}: ${code}`).toBe(Number(status));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});

describe('errors end to end through the gateway', () => {
  it('missing_key: no credential on a protected route', async () => {
    await expectError(await call('/demo/x'), 'missing_key');
  });

  it('invalid_key: a key that was never issued', async () => {
    await expectError(await call('/demo/x', { headers: bearer(generateKey('kg_live').plaintext) }), 'invalid_key');
    await expectError(await call('/demo/x', { headers: bearer('garbage') }), 'invalid_key');
  });

  it('key_revoked: a revoked key', async () => {
    const { key, id } = await createKey();
    expect((await admin(`/keys/${id}/revoke`, { method: 'POST', json: { reason: 'leaked' } })).status).toBe(200);
    await expectError(await call('/demo/x', { headers: bearer(key) }), 'key_revoked');
  });

  it('key_expired: a key past its expiry', async () => {
    const { key } = await createKey({ ttl_seconds: 5 });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60_000);
    await expectError(await call('/demo/x', { headers: bearer(key) }), 'key_expired');
  });

  it('key_inactive: a deactivated key', async () => {
    const { key, id } = await createKey();
    expect((await admin(`/keys/${id}/deactivate`, { method: 'POST' })).status).toBe(200);
    await expectError(await call('/demo/x', { headers: bearer(key) }), 'key_inactive');
  });

  it('ip_not_allowed: a client address outside the key allowlist', async () => {
    const { key } = await createKey({ allowed_ips: ['10.0.0.0/8'] });
    await expectError(await call('/demo/x', { headers: bearer(key, { 'cf-connecting-ip': '192.0.2.1' }) }), 'ip_not_allowed');
  });

  it('referer_not_allowed: a referer outside the key allowlist', async () => {
    const { key } = await createKey({ allowed_referers: ['example.com'] });
    await expectError(await call('/demo/x', { headers: bearer(key, { referer: 'https://evil.test/' }) }), 'referer_not_allowed');
  });

  it('insufficient_scope: a read-only key writing, with the required scopes in the message', async () => {
    const { key } = await createKey({ scopes: ['read'] });
    const error = await expectError(await call('/demo/x', { method: 'POST', headers: bearer(key), body: 'x' }), 'insufficient_scope');
    expect(error.message).toContain('write');
  });

  it('route_not_found: a path no route covers', async () => {
    await expectError(await call('/no-such-route/x'), 'route_not_found');
    await expectError(await call('/'), 'route_not_found');
  });

  it('method_not_allowed: a method the route does not list, with an Allow header', async () => {
    const { key } = await createKey({ scopes: ['reports'] });
    const res = await call('/custom/x', { method: 'DELETE', headers: bearer(key) });
    expect(res.headers.get('allow')).toBe('GET, POST');
    const error = await expectError(res, 'method_not_allowed');
    expect(error.message).toContain('DELETE');
  });

  it('config_invalid: a bad route configuration, naming the field', async () => {
    const env = testEnv({ ROUTES: [{ path: '/x', upstream: 'ftp://files.example.com' }] });
    const error = await expectError(await call('/x/y', {}, { env }), 'config_invalid');
    expect(error.message).toMatch(/^Invalid configuration: ROUTES\[0\]\.upstream: /);
  });

  it('config_invalid: a route naming an upstream secret that is not set', async () => {
    const { key } = await createKey();
    const env = testEnv({ UPSTREAM_TOKEN: undefined });
    const error = await expectError(await call('/secret-upstream/x', { headers: bearer(key) }, { env }), 'config_invalid');
    expect(error.message).toContain('UPSTREAM_TOKEN');
  });

  it('validation_failed: an admin body that fails the schema, with every bad field in details', async () => {
    const res = await admin('/keys', { method: 'POST', json: { scopes: 'read', allowed_ips: ['300.1.1.1'], bogus: 1 } });
    const error = await expectError(res, 'validation_failed');
    const paths = (error.details ?? []).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['scopes', 'allowed_ips[0]', 'bogus']));
  });

  it('invalid_json: an admin body that is not JSON', async () => {
    const res = await admin('/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": ' });
    await expectError(res, 'invalid_json');
  });

  it('unauthorized: admin without or with a wrong token', async () => {
    await expectError(await call('/admin/keys'), 'unauthorized');
    await expectError(await admin('/keys', {}, { token: 'wrong-token' }), 'unauthorized');
  });

  it('forbidden: admin with a key that lacks the admin scope', async () => {
    const { key } = await createKey({ scopes: ['read', 'write'] });
    await expectError(await admin('/keys', {}, { token: key }), 'forbidden');
  });

  it('not_found: an admin action on a key id that does not exist', async () => {
    await expectError(await admin('/keys/key_00000000000000000000000000'), 'not_found');
    await expectError(await admin('/keys/key_00000000000000000000000000/deactivate', { method: 'POST' }), 'not_found');
  });

  it('conflict: reactivating a revoked key', async () => {
    const { id } = await createKey();
    await admin(`/keys/${id}/revoke`, { method: 'POST', json: { reason: 'done' } });
    await expectError(await admin(`/keys/${id}/activate`, { method: 'POST' }), 'conflict');
  });

  it('upstream_unavailable: an upstream that refuses connections', async () => {
    const { key } = await createKey();
    await expectError(await call('/nowhere/x', { headers: bearer(key) }), 'upstream_unavailable');
  });

  it('upstream_timeout: an upstream slower than the route timeout', async () => {
    const { key } = await createKey();
    await expectError(await call('/fast/delay?ms=1500', { headers: bearer(key) }), 'upstream_timeout');
  });

  it('invalid_path: an encoded slash that could leave the route prefix', async () => {
    const { key } = await createKey();
    await expectError(await call('/demo/a%2fb', { headers: bearer(key) }), 'invalid_path');
  });
});

describe('limit errors end to end', () => {
  const limitedRoutes = () => [
    { path: '/rl', upstream: upstreamOrigin(), limits: { rpm: 1 } },
    { path: '/metered', upstream: upstreamOrigin(), metering: { format: 'openai', max_body_bytes: 128 } },
    { path: '/closed', upstream: upstreamOrigin(), limits: { rpm: 100 }, on_store_error: { requests: 'closed' } },
  ];

  it('rate_limited: the request after the key used up its per-minute allowance, with Retry-After', async () => {
    // Both requests in one minute window: across a boundary the second one would be admitted.
    await awayFromMinuteEdge();
    const env = testEnv({ ROUTES: limitedRoutes() });
    const { key } = await createKey();
    expect((await call('/rl/x', { headers: bearer(key) }, { env })).status).toBe(200);
    const res = await call('/rl/x', { headers: bearer(key) }, { env });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const error = await expectError(res, 'rate_limited');
    expect(error.details).toMatchObject({ limit: 'rpm' });
  });

  it('payload_too_large: a metered request body over the route limit', async () => {
    const env = testEnv({ ROUTES: limitedRoutes() });
    const { key } = await createKey();
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(200) }] });
    const res = await call('/metered/v1/chat/completions', { method: 'POST', headers: bearer(key, { 'content-type': 'application/json' }), body }, { env });
    await expectError(res, 'payload_too_large');
  });

  it('invalid_json: a metered request body that is not JSON', async () => {
    const env = testEnv({ ROUTES: limitedRoutes() });
    const { key } = await createKey();
    const res = await call('/metered/v1/chat/completions', { method: 'POST', headers: bearer(key, { 'content-type': 'application/json' }), body: '{"model":' }, { env });
    await expectError(res, 'invalid_json');
  });

  it('budget_exhausted: a key whose spend budget cannot cover the request', async () => {
    const env = testEnv({ ROUTES: limitedRoutes() });
    const { key } = await createKey({ budget: { usd: 0, period: 'total' } });
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const res = await call('/metered/v1/chat/completions', { method: 'POST', headers: bearer(key, { 'content-type': 'application/json' }), body }, { env });
    await expectError(res, 'budget_exhausted');
  });

  it('store_unavailable: a fail-closed route while the limit store is down', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const base = testEnv({ ROUTES: limitedRoutes() });
    const LIMITER = new Proxy(base.LIMITER, {
      get() {
        return () => {
          throw new Error('limit store down');
        };
      },
    });
    const { key } = await createKey();
    const res = await call('/closed/x', { headers: bearer(key) }, { env: { ...base, LIMITER } });
    expect(res.headers.get('retry-after')).toBe('1');
    const error = await expectError(res, 'store_unavailable');
    expect(error.message).not.toContain('limit store down');
  });
});

describe('unexpected failures', () => {
  const SECRET_DETAIL = 'D1_ERROR: no such table keys_secret_internal at /srv/db.sqlite';

  function brokenDbEnv() {
    const base = testEnv();
    const DB = new Proxy(base.DB, {
      get(target, prop, receiver) {
        if (prop === 'prepare' || prop === 'batch') {
          return () => {
            throw new Error(SECRET_DETAIL);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    return { ...base, DB };
  }

  it('an unknown exception becomes a generic 500 internal_error that leaks no message or stack', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const env = brokenDbEnv();
    const presented = generateKey('kg_live').plaintext; // unknown, so the lookup reaches D1
    for (const res of [await call('/demo/x', { headers: bearer(presented) }, { env }), await admin('/keys', {}, { env })]) {
      const text = await res.clone().text();
      const error = await expectError(res, 'internal_error');
      expect(error).toEqual({ code: 'internal_error', message: ERRORS.internal_error.message, request_id: expect.stringMatching(/^req_/) });
      expect(text).not.toContain('D1_ERROR');
      expect(text).not.toContain('secret_internal');
      expect(text).not.toMatch(/\bat \S+:\d+/);
      expect(text).not.toContain('Error:');
    }
    // The server log carries the request id and the error, never the presented key.
    expect(log).toHaveBeenCalled();
    const logged = log.mock.calls.map((args) => args.map(String).join(' ')).join('\n');
    expect(logged).toContain('request_id');
    expect(logged).not.toContain(presented);
  });
});
