// Every way of presenting a key runs the same checks, the revocation marker included: the
// proxy, admin-scoped keys, /_keygate/* and /admin/verify with and without consume. And
// failed admin authentications are throttled per client IP.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearAuthFailures, MAX_FAILURES } from '../../src/admin/auth-throttle';
import { limitStoreFor } from '../../src/services';
import { admin, ADMIN_TOKEN, bearer, call, createKey, testEnv, type ErrorJson } from '../harness/gateway';

beforeEach(() => {
  clearAuthFailures();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a key whose marker says revoked while its snapshot still says active', () => {
  it('is refused by /admin/verify (with and without consume), the proxy, /_keygate and admin auth', async () => {
    const e = testEnv();
    const k = await createKey({ name: 'stale snapshot', scopes: ['read', 'write', 'admin'] });
    expect(await (await admin('/verify', { method: 'POST', json: { key: k.key } })).json()).toMatchObject({ valid: true, code: 'valid' });
    expect((await call('/_keygate/key', { headers: bearer(k.key) })).status).toBe(200);
    // Another isolate revoked it: the marker is written, this isolate's caches are stale.
    await limitStoreFor(e).setBlocked(k.id, 'key_revoked');
    for (const consume of [false, true]) {
      const res = await admin('/verify', { method: 'POST', json: { key: k.key, consume } });
      expect(await res.json(), `consume=${consume}`).toMatchObject({ valid: false, code: 'key_revoked' });
    }
    const outcomes = await Promise.all([call('/demo/x', { headers: bearer(k.key) }), call('/_keygate/key', { headers: bearer(k.key) }), admin('/keys?limit=1', {}, { token: k.key })]);
    for (const res of outcomes) {
      expect(res.status).toBe(401);
      expect(((await res.json()) as ErrorJson).error.code).toBe('key_revoked');
    }
  });

  it('a deleted key (marker invalid_key) answers like an unknown key on /admin/verify', async () => {
    const e = testEnv();
    const k = await createKey({ name: 'deleted elsewhere' });
    await limitStoreFor(e).setBlocked(k.id, 'invalid_key');
    const res = await admin('/verify', { method: 'POST', json: { key: k.key } });
    expect(await res.json()).toEqual({ valid: false, code: 'invalid_key', key: null, usage: null });
  });
});

describe('failed admin authentications', () => {
  const from = (ip: string, token: string) => call('/admin/keys?limit=1', { headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': ip } });

  it(`are throttled per client IP after ${MAX_FAILURES} a minute: 429 with Retry-After, even for the right token, until the window ends`, async () => {
    expect(MAX_FAILURES).toBeLessThanOrEqual(10);
    const ip = '198.51.100.77';
    for (let i = 0; i < MAX_FAILURES; i++) expect((await from(ip, `wrong-${i}`)).status).toBe(401);
    const throttled = await from(ip, 'wrong-again');
    expect(throttled.status).toBe(429);
    expect(((await throttled.json()) as ErrorJson).error.code).toBe('rate_limited');
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await from(ip, ADMIN_TOKEN)).status).toBe(429);
    // Another client is not affected.
    expect((await from('198.51.100.78', ADMIN_TOKEN)).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    expect((await from(ip, ADMIN_TOKEN)).status).toBe(200);
  });

  it('counts refused keys too (a key without the admin scope), not successes', async () => {
    const user = await createKey({ scopes: ['read'] });
    const ip = '203.0.113.200';
    for (let i = 0; i < 3 * MAX_FAILURES; i++) expect((await from(ip, ADMIN_TOKEN)).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES; i++) expect((await from(ip, user.key)).status).toBe(403);
    expect((await from(ip, user.key)).status).toBe(429);
  });
});
