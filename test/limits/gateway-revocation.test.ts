// Instant revocation on both limit stores: every admission checks the store's block marker,
// so a revoked or deactivated key is refused at once even while a stale active snapshot of
// it still sits in KV (KV is eventually consistent across locations).

import { describe, expect, it } from 'vitest';
import { digestKey } from '../../src/keys/digest';
import { KV_PREFIX } from '../../src/keys/key-store';
import { admin, bearer, upstreamOrigin } from '../harness/gateway';
import { errorOf, gateway, STORE_KINDS, type Gateway } from './stores';

function revocationGateway(kind: (typeof STORE_KINDS)[number]): Gateway {
  return gateway(kind, {
    ROUTES: [
      // No limits at all: the store is still asked, for the marker (instant_revocation defaults on).
      { path: '/api', upstream: upstreamOrigin() },
      { path: '/lax', upstream: upstreamOrigin(), instant_revocation: false },
    ],
  });
}

/** Uses the key once (warming every cache) and returns its active KV snapshot. */
async function warmSnapshot(gw: Gateway, key: string): Promise<{ kvKey: string; snapshot: string }> {
  expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
  const kvKey = KV_PREFIX + (digestKey(key));
  const snapshot = await gw.env.KEYS.get(kvKey);
  expect(snapshot).not.toBeNull();
  expect(JSON.parse(snapshot!)).toMatchObject({ is_active: true, revoked_at: null });
  return { kvKey, snapshot: snapshot! };
}

describe.each(STORE_KINDS)('instant revocation beats stale caches (%s store)', (kind) => {
  it('refuses a revoked key with 401 key_revoked while KV still holds its active snapshot', async () => {
    const gw = revocationGateway(kind);
    const { key, id } = await gw.createKey();
    const { kvKey, snapshot } = await warmSnapshot(gw, key);

    expect((await gw.admin(`/keys/${id}/revoke`, { method: 'POST', json: { reason: 'leaked' } })).status).toBe(200);
    // A KV location that has not seen the revocation yet.
    await gw.env.KEYS.put(kvKey, snapshot);

    const res = await gw.call('/api/x', { headers: bearer(key) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('key_revoked');
    // The control: a route that skips the marker believes the stale snapshot.
    expect((await gw.call('/lax/x', { headers: bearer(key) })).status).toBe(200);
  });

  it('refuses a deactivated key with 403 key_inactive despite a stale snapshot, and serves it again once activated', async () => {
    const gw = revocationGateway(kind);
    const { key, id } = await gw.createKey();
    const { kvKey, snapshot } = await warmSnapshot(gw, key);

    expect((await gw.admin(`/keys/${id}/deactivate`, { method: 'POST' })).status).toBe(200);
    await gw.env.KEYS.put(kvKey, snapshot);
    const res = await gw.call('/api/x', { headers: bearer(key) });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('key_inactive');

    expect((await gw.admin(`/keys/${id}/activate`, { method: 'POST' })).status).toBe(200);
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
  });
});

describe.each(STORE_KINDS)('instant revocation outside the proxied path (%s store)', (kind) => {
  it('refuses a revoked admin-scoped key on the admin API while KV still holds its active snapshot', async () => {
    const gw = revocationGateway(kind);
    const adminKey = await gw.createKey({ scopes: ['admin'] });
    const list = (token: string) => admin('/keys?limit=1', {}, { token, env: gw.env });
    expect((await list(adminKey.key)).status).toBe(200);
    const kvKey = KV_PREFIX + (digestKey(adminKey.key));
    const snapshot = (await gw.env.KEYS.get(kvKey))!;

    expect((await gw.admin(`/keys/${adminKey.id}/revoke`, { method: 'POST', json: { reason: 'operator left' } })).status).toBe(200);
    await gw.env.KEYS.put(kvKey, snapshot);

    const res = await list(adminKey.key);
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('key_revoked');
  });

  it('refuses a deactivated key on /_keygate/usage despite a stale snapshot', async () => {
    const gw = revocationGateway(kind);
    const { key, id } = await gw.createKey();
    const { kvKey, snapshot } = await warmSnapshot(gw, key);
    expect((await gw.call('/_keygate/usage', { headers: bearer(key) })).status).toBe(200);

    expect((await gw.admin(`/keys/${id}/deactivate`, { method: 'POST' })).status).toBe(200);
    await gw.env.KEYS.put(kvKey, snapshot);
    const res = await gw.call('/_keygate/usage', { headers: bearer(key) });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('key_inactive');
  });
});
