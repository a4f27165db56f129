// A revoke, deactivate, delete or rotation expiry whose revocation-marker write fails is not
// silently "done": the change is committed, the response and the audit log say the marker is
// pending, the outbox keeps it, and the next admin call (or the cron) writes it. On both
// limit stores.

import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/env';
import { runCleanup } from '../../src/scheduled';
import { limitStoreFor } from '../../src/services';
import { admin, createKey, upstreamOrigin } from '../harness/gateway';
import { STORE_KINDS, storeEnv, type StoreKind } from '../limits/stores';

afterEach(() => {
  vi.useRealTimers();
});

/** A Durable Object namespace whose every call fails, as an unreachable store would. */
function failingNamespace(): DurableObjectNamespace {
  const fail = () => {
    throw new Error('limit store down');
  };
  return new Proxy({} as DurableObjectNamespace, { get: () => fail });
}

/** The same deployment (D1, KV) with the limit store of `kind`, working or failing. */
function deployments(kind: StoreKind): { good: Env; bad: Env } {
  const good = storeEnv(kind, { ROUTES: [{ path: '/demo', upstream: upstreamOrigin() }] });
  const bad =
    kind === 'durable_object'
      ? { ...good, LIMITER: failingNamespace() }
      : { ...good, UPSTASH_REDIS_REST_URL: `http://127.0.0.1:9/dead/${crypto.randomUUID()}`, UPSTASH_REDIS_REST_TOKEN: 'unused' };
  return { good, bad: bad as Env };
}

/** What the store's marker says about a key, read straight from the store. */
async function markerOf(e: Env, keyId: string): Promise<string> {
  const outcome = await limitStoreFor(e).admit({ keyId, counters: [], now: Date.now() });
  return outcome.status === 'blocked' ? outcome.reason : 'none';
}

async function outboxRows(keyId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM outbox WHERE key_id = ?').bind(keyId).first<{ n: number }>();
  return row?.n ?? 0;
}

async function actions(keyId: string, e: Env): Promise<string[]> {
  const res = await admin(`/audit?key_id=${keyId}`, {}, { env: e });
  return ((await res.json()) as { entries: { action: string }[] }).entries.map((x) => x.action);
}

/** The failing DO store shares the isolate's breaker with the working one: let it close. */
function afterBreakerCoolDown(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + 60_000);
}

describe.each(STORE_KINDS)('with the %s limit store failing', (kind) => {
  it('a revoke answers marker pending, audits marker_pending, and the next admin call writes the marker', async () => {
    const { good, bad } = deployments(kind);
    const k = await createKey({ name: `outbox revoke ${kind}` }, { env: good });

    const res = await admin(`/keys/${k.id}/revoke`, { method: 'POST', json: { reason: 'leaked' } }, { env: bad });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'revoked', marker: 'pending' });
    expect(await outboxRows(k.id)).toBe(1);
    afterBreakerCoolDown();
    expect(await actions(k.id, good)).toContain('marker_pending');
    // That admin call (its after-response work) retried the marker on the working store.
    expect(await markerOf(good, k.id)).toBe('key_revoked');
    expect(await outboxRows(k.id)).toBe(0);
    expect((await actions(k.id, good))[0]).toBe('marker_written');
  });

  it('a deactivate and a delete are kept pending until the cron writes their markers', async () => {
    const { good, bad } = deployments(kind);
    const off = await createKey({ name: `outbox deactivate ${kind}` }, { env: good });
    const gone = await createKey({ name: `outbox delete ${kind}` }, { env: good });

    const deactivated = await admin(`/keys/${off.id}/deactivate`, { method: 'POST' }, { env: bad });
    expect(await deactivated.json()).toMatchObject({ status: 'inactive', marker: 'pending' });
    const deleted = await admin(`/keys/${gone.id}`, { method: 'DELETE' }, { env: bad });
    expect(await deleted.json()).toEqual({ id: gone.id, deleted: true, marker: 'pending' });
    expect(await markerOf(good, off.id)).toBe('none');

    // The cron on a still-failing store leaves them pending; on a working one writes them.
    await runCleanup(bad);
    expect(await outboxRows(off.id)).toBe(1);
    afterBreakerCoolDown();
    const report = await runCleanup(good);
    expect(report.outboxWritten).toBeGreaterThanOrEqual(2);
    expect(await markerOf(good, off.id)).toBe('key_inactive');
    expect(await markerOf(good, gone.id)).toBe('invalid_key');
    expect(await outboxRows(off.id)).toBe(0);
    expect(await outboxRows(gone.id)).toBe(0);
  });

  it('a rotation grace that ends while the store fails is expired by the cron and marked once it answers', async () => {
    const { good, bad } = deployments(kind);
    const old = await createKey({ name: `outbox grace ${kind}` }, { env: good });
    expect((await admin(`/keys/${old.id}/rotate`, { method: 'POST', json: { grace_seconds: 1 } }, { env: good })).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_000);
    const first = await runCleanup(bad);
    expect(first.pending).toBeGreaterThanOrEqual(1);
    expect(await outboxRows(old.id)).toBe(1);
    // Same millisecond (the cron's clock): audit ids then order at random.
    expect((await actions(old.id, good)).slice(0, 2).sort()).toEqual(['expire', 'marker_pending']);
    // Past any breaker opened by an earlier test's failing store (fake clocks differ per test).
    vi.setSystemTime(Date.now() + 60_000);
    await runCleanup(good);
    expect(await markerOf(good, old.id)).toBe('key_expired');
    expect(await outboxRows(old.id)).toBe(0);
  });
});
