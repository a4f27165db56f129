// revocation_max_staleness_ms: on routes where the store is asked only for the revocation
// marker, a key's clear marker is trusted for that long per isolate (no store call), and
// 0 reads it on every request as before. Time moves with a fake Date only.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { limitStoreFor } from '../../src/services';
import { clearMarkerCache } from '../../src/limits/marker-cache';
import { bearer, upstreamOrigin } from '../harness/gateway';
import { bridgeStats, gateway, STORE_KINDS } from './stores';

afterEach(() => {
  vi.useRealTimers();
  clearMarkerCache();
});

describe.each(STORE_KINDS)('revocation marker staleness (%s store)', (kind) => {
  it('a marker set in the store reaches a cached key within revocation_max_staleness_ms, without a store call per request before then', async () => {
    const tag = `staleness-${crypto.randomUUID()}`;
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: upstreamOrigin(), revocation_max_staleness_ms: 30_000 }] }, { tag });
    const { key, id } = await gw.createKey();
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    vi.setSystemTime(start);
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
    const before = kind === 'upstash' ? (await bridgeStats(tag)).httpRequests : 0;
    for (let i = 0; i < 5; i++) expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
    if (kind === 'upstash') expect((await bridgeStats(tag)).httpRequests).toBe(before);

    // Revoked in the store only (as another isolate's admin change would be seen here).
    await limitStoreFor(gw.env).setBlocked(id, 'key_revoked');
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
    vi.setSystemTime(start + 30_001);
    const refused = await gw.call('/api/x', { headers: bearer(key) });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('key_revoked');
  });

  it('revocation_max_staleness_ms = 0 reads the marker on every request', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: upstreamOrigin(), revocation_max_staleness_ms: 0 }] });
    const { key, id } = await gw.createKey();
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
    await limitStoreFor(gw.env).setBlocked(id, 'key_revoked');
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(401);
  });

  it('routes with limits still read the store on every request', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: upstreamOrigin(), limits: { rpm: 100 }, revocation_max_staleness_ms: 60_000 }] });
    const { key, id } = await gw.createKey();
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
    await limitStoreFor(gw.env).setBlocked(id, 'key_revoked');
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(401);
  });

  it('the field is bounded', async () => {
    for (const v of [-1, 0.5, 60_001]) {
      const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: upstreamOrigin(), revocation_max_staleness_ms: v }] });
      expect((await gw.call('/api/x')).status).toBe(500);
    }
  });
});
