// Group commit against both real stores: batched admissions stay exact and all or nothing per
// request, each admission in a call gets its own outcome, and one admission's store error
// leaves the others in its call alone.

import { describe, expect, it } from 'vitest';
import type { GroupCommit, GroupCommitOptions } from '../../src/limits/group-commit';
import type { AdmitInput, AdmitOutcome, CounterSpec, LimitStore } from '../../src/limits/store';

export type BatchingStore = LimitStore & { batches: GroupCommit<AdmitInput, AdmitOutcome> };

let seq = 0;
const freshId = (tag: string) => `${tag}${Date.now().toString(36).toUpperCase()}${(seq++).toString(36).toUpperCase()}${crypto.randomUUID().slice(0, 6)}`;
const rpm = (limit: number): CounterSpec => ({ name: 'rpm', kind: 'requests', limit, windowMs: 60_000, cost: 1 });

/**
 * `poison(store, input)` makes the store fail this one admission with an error about its data
 * (a Redis key of the wrong type, a value SQLite cannot bind), as a hostile input could.
 */
export function groupCommitContract(name: string, makeStore: (batching: Partial<GroupCommitOptions>) => BatchingStore, poison: (store: BatchingStore, input: AdmitInput) => Promise<AdmitInput>): void {
  describe(`${name} store with group commit`, () => {
    it('admits exactly the limit of 300 concurrent requests in far fewer store calls', async () => {
      const store = makeStore({ maxBatch: 32 });
      const keyId = freshId('key_GC');
      const now = Date.now();
      const outcomes = await Promise.all(Array.from({ length: 300 }, () => store.admit({ keyId, counters: [rpm(100)], now })));
      expect(outcomes.filter((o) => o.status === 'admitted')).toHaveLength(100);
      expect(outcomes.filter((o) => o.status === 'rate_limited')).toHaveLength(200);
      expect((await store.usage(keyId, [rpm(100)], undefined, now)).counters[0]?.used).toBe(100);
      expect(store.batches.stats.sent).toBe(300);
      // 300 / 32 rounded up is the fewest calls possible.
      expect(store.batches.stats.calls).toBeGreaterThanOrEqual(10);
      expect(store.batches.stats.calls).toBeLessThan(100);
    });

    it('with STORE_BATCH_MAX 1 makes one call per admission, and is as exact', async () => {
      const store = makeStore({ maxBatch: 1 });
      const keyId = freshId('key_GC1');
      const now = Date.now();
      const outcomes = await Promise.all(Array.from({ length: 60 }, () => store.admit({ keyId, counters: [rpm(25)], now })));
      expect(outcomes.filter((o) => o.status === 'admitted')).toHaveLength(25);
      expect(store.batches.stats.calls).toBe(60);
    });

    it("gives each admission in one call its own outcome: revoked, over its limit, over its owner's, admitted", async () => {
      const store = makeStore({ maxBatch: 32 });
      const owner = freshId('gc-owner-');
      const ownerPart = (limit: number) => ({ id: owner, counters: [rpm(limit)] });
      const [revoked, spent, fine, lead] = ['key_GCR', 'key_GCS', 'key_GCF', 'key_GCL'].map(freshId) as [string, string, string, string];
      const now = Date.now();
      await store.setBlocked(revoked, 'key_revoked', undefined, owner);
      expect((await store.admit({ keyId: spent, counters: [rpm(1)], owner: ownerPart(3), now })).status).toBe('admitted');
      const before = store.batches.stats.calls;

      // The first is in flight alone; the other four wait and share the next call.
      const first = store.admit({ keyId: lead, counters: [rpm(5)], owner: ownerPart(3), now });
      const rest = [
        store.admit({ keyId: revoked, counters: [rpm(5)], owner: ownerPart(3), now }),
        store.admit({ keyId: spent, counters: [rpm(1)], owner: ownerPart(3), now }),
        store.admit({ keyId: fine, counters: [rpm(5)], owner: ownerPart(3), now }),
        store.admit({ keyId: fine, counters: [rpm(5)], owner: ownerPart(3), now }),
      ];
      expect((await first).status).toBe('admitted');
      const outcomes = await Promise.all(rest);
      expect(outcomes.map((o) => o.status)).toEqual(['blocked', 'rate_limited', 'admitted', 'rate_limited']);
      expect(outcomes[1]).toMatchObject({ holder: 'key' });
      // The owner's 3: `spent`'s first request, `lead`, and the first of `fine`'s two.
      expect(outcomes[3]).toMatchObject({ holder: 'owner' });
      expect(store.batches.stats.calls - before).toBe(2);
      const ownerUsed = (await store.ownerUsage(owner, [rpm(3)], undefined, now)).counters[0]?.used;
      expect(ownerUsed).toBe(3);
    });

    it("answers one admission's store error to that admission alone; the rest of its call is admitted and counted", async () => {
      const store = makeStore({ maxBatch: 32 });
      const [lead, bad, good] = ['key_GCL', 'key_GCB', 'key_GCG'].map(freshId) as [string, string, string];
      const now = Date.now();
      // Keys of one owner with limits share a shard on either store.
      const owner = { id: freshId('gc-owner-'), counters: [rpm(10)] };
      const poisoned = await poison(store, { keyId: bad, counters: [rpm(5)], owner, now });
      const before = store.batches.stats.calls;
      const first = store.admit({ keyId: lead, counters: [rpm(5)], owner, now });
      const results = await Promise.allSettled([first, store.admit(poisoned), store.admit({ keyId: good, counters: [rpm(5)], owner, now })]);
      expect(results[0]).toMatchObject({ status: 'fulfilled', value: { status: 'admitted' } });
      expect(results[1].status).toBe('rejected');
      expect(results[2]).toMatchObject({ status: 'fulfilled', value: { status: 'admitted' } });
      expect((await store.usage(good, [rpm(5)], undefined, now, owner.id)).counters[0]?.used).toBe(1);
      // The failed admission charged its owner nothing: lead and good only.
      expect((await store.ownerUsage(owner.id, [rpm(10)], undefined, now)).counters[0]?.used).toBe(2);
      expect(store.batches.stats.calls - before).toBe(2);
    });

    it('stays exact past an admission that fails in the middle of a call', async () => {
      const store = makeStore({ maxBatch: 32 });
      const [hot, bad] = ['key_GCH', 'key_GCP'].map(freshId) as [string, string];
      const now = Date.now();
      const owner = { id: freshId('gc-owner-'), counters: [rpm(100)] };
      const poisoned = await poison(store, { keyId: bad, counters: [rpm(5)], owner, now });
      const first = store.admit({ keyId: hot, counters: [rpm(3)], owner, now });
      const rest = [store.admit({ keyId: hot, counters: [rpm(3)], owner, now }), store.admit(poisoned), ...[1, 2, 3].map(() => store.admit({ keyId: hot, counters: [rpm(3)], owner, now }))];
      const outcomes = await Promise.allSettled([first, ...rest]);
      const statuses = outcomes.map((o) => (o.status === 'fulfilled' ? o.value.status : 'error'));
      expect(statuses).toEqual(['admitted', 'admitted', 'error', 'admitted', 'rate_limited', 'rate_limited']);
      expect((await store.usage(hot, [rpm(3)], undefined, now, owner.id)).counters[0]?.used).toBe(3);
      expect((await store.ownerUsage(owner.id, [rpm(100)], undefined, now)).counters[0]?.used).toBe(3);
    });
  });
}
