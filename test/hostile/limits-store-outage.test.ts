// Revocation does not fail open, on both limit stores. While the store is unreachable (or the
// breaker is open) a route that fails open still refuses a key revoked, deactivated or expired
// since this isolate cached it: the key is checked against a fresh read of its KV snapshot.
// Admin-scoped keys and key holders get the same check. A route with
// on_store_error.requests = "closed" answers 503 even without limits.

import { describe, expect, it } from 'vitest';
import { digestKey } from '../../src/keys/digest';
import { KV_PREFIX } from '../../src/keys/key-store';
import type { KeyRecord } from '../../src/keys/record';
import { admin, bearer, call, countingEnv, upstreamOrigin } from '../harness/gateway';
import { downGateway, errorOf, gateway, STORE_KINDS, type Gateway, type StoreKind } from '../limits/stores';

const ROUTES = () => [
  { path: '/open', upstream: upstreamOrigin(), limits: { rpm: 100 } },
  // No limits: the store is asked only for the revocation marker.
  { path: '/plain', upstream: upstreamOrigin() },
  { path: '/closed', upstream: upstreamOrigin(), on_store_error: { requests: 'closed' } },
];

function outage(kind: StoreKind): Gateway {
  return downGateway(kind, { ROUTES: ROUTES() });
}

/** What another isolate's admin change leaves behind: KV updated, this isolate's cache not. */
async function changeElsewhere(gw: Gateway, key: string, change: Partial<KeyRecord>): Promise<void> {
  const kvKey = KV_PREFIX + (digestKey(key));
  const snapshot = JSON.parse((await gw.env.KEYS.get(kvKey))!) as KeyRecord;
  await gw.env.KEYS.put(kvKey, JSON.stringify({ ...snapshot, ...change }));
}

/** Uses the key through the outage gateway so this isolate caches its active record. */
async function warm(gw: Gateway, key: string): Promise<void> {
  const res = await gw.call('/open/x', { headers: bearer(key) });
  expect(res.status).toBe(200);
  expect(res.headers.get('server-timing')).toMatch(/store;desc="(upstash|durable_object) (error|timeout|circuit_open)"/);
  // Served from the isolate cache from now on.
  expect((await gw.call('/open/x', { headers: bearer(key) })).headers.get('server-timing')).toContain('key;desc="memory"');
}

describe.each(STORE_KINDS)('revocation while the limit store is down (%s store)', (kind) => {
  it('refuses a key revoked since this isolate cached it, on routes that fail open', async () => {
    const gw = outage(kind);
    const { key } = await gw.createKey();
    await warm(gw, key);

    await changeElsewhere(gw, key, { revoked_at: Date.now(), revoked_reason: 'leaked' });
    for (const path of ['/open/x', '/plain/x']) {
      const res = await gw.call(path, { headers: bearer(key) });
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe('key_revoked');
    }
  });

  it('refuses a key deactivated or expired since this isolate cached it', async () => {
    const gw = outage(kind);
    const inactive = await gw.createKey();
    const expired = await gw.createKey();
    await warm(gw, inactive.key);
    await warm(gw, expired.key);

    await changeElsewhere(gw, inactive.key, { is_active: false });
    await changeElsewhere(gw, expired.key, { expires_at: Date.now() - 1 });
    const a = await gw.call('/open/x', { headers: bearer(inactive.key) });
    expect(a.status).toBe(403);
    expect((await errorOf(a)).code).toBe('key_inactive');
    const b = await gw.call('/open/x', { headers: bearer(expired.key) });
    expect(b.status).toBe(401);
    expect((await errorOf(b)).code).toBe('key_expired');
  });

  it('still admits an active key on a route that fails open, after a fresh KV check', async () => {
    const gw = outage(kind);
    const { key } = await gw.createKey();
    await warm(gw, key);
    const res = await gw.call('/plain/x', { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toContain('revocation;desc="kv"');
  });

  it('shares one fresh KV read among concurrent requests of one key', async () => {
    const gw = outage(kind);
    const { key } = await gw.createKey();
    await warm(gw, key);
    // With the breaker open no request waits on the store, so all ten reach the check together.
    let open = false;
    for (let i = 0; i < 6 && !open; i++) open = (await gw.call('/open/x', { headers: bearer(key) })).headers.get('server-timing')?.includes('circuit_open') ?? false;
    expect(open).toBe(true);
    const { env, counts } = countingEnv(gw.env);
    const responses = await Promise.all(Array.from({ length: 10 }, () => call('/plain/x', { headers: bearer(key) }, { env, settle: false })));
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.headers.get('server-timing')).toContain('circuit_open');
    }
    expect(counts.kv).toBe(1);
  });

  it('answers 503 store_unavailable on a requests = "closed" route even when it has no limits', async () => {
    const gw = outage(kind);
    const { key } = await gw.createKey();
    const res = await gw.call('/closed/x', { headers: bearer(key) });
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('store_unavailable');
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('keeps refusing revoked keys once the breaker is open', async () => {
    const gw = outage(kind);
    const { key } = await gw.createKey();
    for (let i = 0; i < 5; i++) expect((await gw.call('/open/x', { headers: bearer(key) })).status).toBe(200);
    const open = await gw.call('/open/x', { headers: bearer(key) });
    expect(open.status).toBe(200);
    expect(open.headers.get('server-timing')).toContain(`store;desc="${kind} circuit_open"`);

    await changeElsewhere(gw, key, { revoked_at: Date.now(), revoked_reason: 'leaked' });
    const res = await gw.call('/open/x', { headers: bearer(key) });
    expect(res.status).toBe(401);
    expect(res.headers.get('server-timing')).toContain(`store;desc="${kind} circuit_open"`);
  });

  it('lets an active admin-scoped key work and refuses a revoked one on the admin API', async () => {
    const gw = outage(kind);
    const adminKey = await gw.createKey({ scopes: ['admin'] });
    const list = () => admin('/keys?limit=1', {}, { token: adminKey.key, env: gw.env });
    expect((await list()).status).toBe(200);

    await changeElsewhere(gw, adminKey.key, { revoked_at: Date.now(), revoked_reason: 'operator left' });
    const res = await list();
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('key_revoked');
  });

  it('refuses a revoked key on /_keygate/key', async () => {
    const gw = outage(kind);
    const { key } = await gw.createKey();
    await warm(gw, key);
    await changeElsewhere(gw, key, { revoked_at: Date.now(), revoked_reason: 'leaked' });
    const res = await gw.call('/_keygate/key', { headers: bearer(key) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('key_revoked');
  });
});

describe.each(STORE_KINDS)('the marker still decides while the store answers (%s store)', (kind) => {
  it('needs no KV read when the store is up', async () => {
    const gw = gateway(kind, { ROUTES: ROUTES() });
    const { key } = await gw.createKey();
    await gw.call('/plain/x', { headers: bearer(key) });
    const res = await gw.call('/plain/x', { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).not.toContain('revocation');
  });
});
