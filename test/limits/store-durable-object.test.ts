import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { budgetSpec } from '../../src/limits/policy';
import { DurableObjectLimitStore } from '../../src/limits/durable-object-store';
import type { LimiterObject } from '../../src/limits/durable-object';
import { limitStoreContract } from './contract';
import { groupCommitContract } from './group-commit-contract';

limitStoreContract('Durable Object', () => new DurableObjectLimitStore(env.LIMITER));

groupCommitContract(
  'Durable Object',
  (batching) => new DurableObjectLimitStore(env.LIMITER, batching),
  // A null cost, which the gateway's own checks never let through: the window's row would get a
  // NULL count, which SQLite refuses (NOT NULL), so the admission's transaction rolls back.
  async (_store, input) => ({ ...input, counters: input.counters.map((c) => ({ ...c, cost: null as unknown as number })) }),
);

describe('Durable Object store housekeeping', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('deletes ended windows and budget periods (a day past their end), keeping live ones and the total', async () => {
    const keyId = `key_SWEEP${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
    const store = new DurableObjectLimitStore(env.LIMITER);
    const rpm = { name: 'rpm', kind: 'requests' as const, limit: 10, windowMs: 60_000, cost: 1 };
    const start = Date.UTC(2026, 10, 23, 12, 0, 0);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
    const day = budgetSpec({ usd: 5, period: 'day' }, 1000, start);
    const total = budgetSpec({ usd: 5, period: 'total' }, 1000, start);
    expect((await store.admit({ keyId, counters: [rpm], budget: day, now: start })).status).toBe('admitted');
    expect((await store.admit({ keyId, counters: [], budget: total, now: start })).status).toBe('admitted');

    // Two days later: the day's period ended more than a day ago, the minute window long ago.
    const later = start + 2 * 86_400_000 + 60_000;
    vi.setSystemTime(later);
    expect((await store.admit({ keyId, counters: [rpm], budget: budgetSpec({ usd: 5, period: 'day' }, 1000, later), now: later })).status).toBe('admitted');

    const stub = env.LIMITER.get(env.LIMITER.idFromName(keyId));
    const rows = await runInDurableObject(stub, (_obj, state) => ({
      counters: state.storage.sql.exec<{ bucket: number }>('SELECT bucket FROM counters').toArray().map((r) => r.bucket),
      budget: state.storage.sql.exec<{ period_key: string }>('SELECT period_key FROM budget ORDER BY period_key').toArray().map((r) => r.period_key),
    }));
    expect(rows.counters).toEqual([Math.floor(later / 60_000)]);
    expect(rows.budget).toEqual(['2026-11-25', 'total']);
  });

  it('charges nothing when one write of an admission fails: windows and budget commit together', async () => {
    const keyId = `key_ATOMIC${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
    const stub = env.LIMITER.get(env.LIMITER.idFromName(keyId));
    const now = Date.now();
    const rpm = { name: 'rpm', kind: 'requests' as const, limit: 10, windowMs: 60_000, cost: 1 };
    const tpm = { name: 'tpm', kind: 'tokens' as const, limit: 10_000, windowMs: 60_000, cost: 256 };
    // A budget cost the object cannot store (NaN violates NOT NULL): the gateway never sends
    // one (amounts are checked before the store), but a failed write must not leave the
    // windows charged.
    const budget = { ...budgetSpec({ usd: 5, period: 'day' }, 1000, now)!, costMicros: Number.NaN };
    await expect(runInDurableObject(stub, (obj: LimiterObject) => obj.admit({ keyId, counters: [rpm, tpm], budget, now }))).rejects.toThrow();
    const usage = await runInDurableObject(stub, (obj: LimiterObject) => obj.usage([rpm, tpm], undefined, now));
    expect(usage.counters.map((c) => c.used)).toEqual([0, 0]);
  });
});
