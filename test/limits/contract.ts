// One contract, two stores: every LimitStore implementation must pass these.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { budgetSpec } from '../../src/limits/policy';
import { creditsSpec } from '../../src/limits/admission';
import { refundTicket, type AdmitOutcome, type CounterSpec, type LimitStore } from '../../src/limits/store';

let seq = 0;
const freshKeyId = () => `key_CONTRACT${Date.now().toString(36).toUpperCase()}${(seq++).toString(36).toUpperCase()}${crypto.randomUUID().slice(0, 8)}`;

const rpm = (limit: number): CounterSpec => ({ name: 'rpm', kind: 'requests', limit, windowMs: 60_000, cost: 1 });
const tpm = (limit: number, cost: number): CounterSpec => ({ name: 'tpm', kind: 'tokens', limit, windowMs: 60_000, cost });
const rpd = (limit: number): CounterSpec => ({ name: 'rpd', kind: 'requests', limit, windowMs: 86_400_000, cost: 1 });

function admitted(o: AdmitOutcome): o is Extract<AdmitOutcome, { status: 'admitted' }> {
  return o.status === 'admitted';
}

export function limitStoreContract(name: string, makeStore: () => LimitStore): void {
  describe(`${name} limit store contract`, () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('admits up to the limit and refuses the next request', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      for (let i = 0; i < 3; i++) expect((await store.admit({ keyId, counters: [rpm(3)], now })).status).toBe('admitted');
      const refused = await store.admit({ keyId, counters: [rpm(3)], now });
      expect(refused.status).toBe('rate_limited');
      if (refused.status === 'rate_limited') {
        expect(refused.refusedBy.name).toBe('rpm');
        expect(refused.refusedBy.remaining).toBe(0);
        expect(refused.refusedBy.resetAt).toBe((Math.floor(now / 60_000) + 1) * 60_000);
      }
    });

    it('reports used and remaining after each admission', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const out = await store.admit({ keyId, counters: [rpm(10), tpm(1000, 250)], now: Date.now() });
      expect(admitted(out)).toBe(true);
      if (admitted(out)) {
        expect(out.counters.map((c) => [c.name, c.used, c.remaining])).toEqual([
          ['rpm', 1, 9],
          ['tpm', 250, 750],
        ]);
      }
    });

    it('a limit of zero refuses everything', async () => {
      const store = makeStore();
      expect((await store.admit({ keyId: freshKeyId(), counters: [rpm(0)], now: Date.now() })).status).toBe('rate_limited');
    });

    it('admits exactly the limit when 300 requests arrive at once', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const outcomes = await Promise.all(Array.from({ length: 300 }, () => store.admit({ keyId, counters: [rpm(100)], now })));
      expect(outcomes.filter((o) => o.status === 'admitted')).toHaveLength(100);
      expect(outcomes.filter((o) => o.status === 'rate_limited')).toHaveLength(200);
      const usage = await store.usage(keyId, [rpm(100)], undefined, now);
      expect(usage.counters[0]?.used).toBe(100);
    });

    it('is all or nothing: a request refused by one limit consumes none of the others', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const budget = budgetSpec({ usd: 1, period: 'total' }, 5_000, now)!;
      const refused = await store.admit({ keyId, counters: [rpm(10), rpd(100), tpm(1000, 1500)], budget, now });
      expect(refused.status).toBe('rate_limited');
      const usage = await store.usage(keyId, [rpm(10), rpd(100), tpm(1000, 0)], budget, now);
      expect(usage.counters.map((c) => c.used)).toEqual([0, 0, 0]);
      expect(usage.budget?.spentMicros).toBe(0);
      // And the full capacity is still there.
      expect((await store.admit({ keyId, counters: [rpm(10), rpd(100), tpm(1000, 1000)], budget, now })).status).toBe('admitted');
    });

    it('a budget refusal consumes no request or token window', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const tight = budgetSpec({ usd: 0.001, period: 'day' }, 2_000, now)!; // cost 2000 micro-USD > 1000 limit
      const out = await store.admit({ keyId, counters: [rpm(10), tpm(1000, 100)], budget: tight, now });
      expect(out.status).toBe('budget_exhausted');
      const usage = await store.usage(keyId, [rpm(10), tpm(1000, 0)], tight, now);
      expect(usage.counters.map((c) => c.used)).toEqual([0, 0]);
      expect(usage.budget?.spentMicros).toBe(0);
    });

    it('spends a budget until it is exhausted', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const spec = budgetSpec({ usd: 0.01, period: 'month' }, 4_000, now)!; // 10,000 micro-USD
      expect((await store.admit({ keyId, counters: [], budget: spec, now })).status).toBe('admitted');
      expect((await store.admit({ keyId, counters: [], budget: spec, now })).status).toBe('admitted');
      const third = await store.admit({ keyId, counters: [], budget: spec, now });
      expect(third.status).toBe('budget_exhausted');
      if (third.status === 'budget_exhausted') {
        expect(third.budget.spentMicros).toBe(8_000);
        expect(third.budget.remainingMicros).toBe(2_000);
      }
    });

    it('starts a fresh window when the minute rolls over', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-11-23T10:00:10Z'));
      const store = makeStore();
      const keyId = freshKeyId();
      expect((await store.admit({ keyId, counters: [rpm(1)], now: Date.now() })).status).toBe('admitted');
      expect((await store.admit({ keyId, counters: [rpm(1)], now: Date.now() })).status).toBe('rate_limited');
      vi.setSystemTime(new Date('2026-11-23T10:00:59.999Z'));
      expect((await store.admit({ keyId, counters: [rpm(1)], now: Date.now() })).status).toBe('rate_limited');
      vi.setSystemTime(new Date('2026-11-23T10:01:00Z'));
      expect((await store.admit({ keyId, counters: [rpm(1)], now: Date.now() })).status).toBe('admitted');
    });

    it('settles a reservation: refunds unused tokens and charges extra ones in the same window', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const budget = budgetSpec({ usd: 1, period: 'total' }, 3_000, now)!;
      const out = await store.admit({ keyId, counters: [tpm(1000, 600)], budget, now });
      if (!admitted(out)) throw new Error(`expected admission, got ${out.status}`);
      await store.settle(out.ticket, { tokenDelta: -450, costDeltaMicros: -1_000, now });
      let usage = await store.usage(keyId, [tpm(1000, 0)], budget, now);
      expect(usage.counters[0]?.used).toBe(150);
      expect(usage.budget?.spentMicros).toBe(2_000);
      await store.settle(out.ticket, { tokenDelta: 100, costDeltaMicros: 500, now });
      usage = await store.usage(keyId, [tpm(1000, 0)], budget, now);
      expect(usage.counters[0]?.used).toBe(250);
      expect(usage.budget?.spentMicros).toBe(2_500);
    });

    it('settles what a hostile upstream reports (NaN, fractions, 1e300, -1e300) without failing, keeping counters integers', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const budget = budgetSpec({ usd: 1, period: 'total' }, 100, now)!;
      const out = await store.admit({ keyId, counters: [tpm(1000, 10)], budget, now });
      if (!admitted(out)) throw new Error(`expected admission, got ${out.status}`);
      for (const delta of [Number.NaN, 0.5, Infinity, 1e300, 1e300, -1e300, 2.5]) {
        await store.settle(out.ticket, { tokenDelta: delta, costDeltaMicros: delta, now });
        const usage = await store.usage(keyId, [tpm(1000, 0)], budget, now);
        expect(Number.isSafeInteger(usage.counters[0]?.used)).toBe(true);
        expect(Number.isSafeInteger(usage.budget?.spentMicros)).toBe(true);
      }
    });

    it('does not refund into a window that has already ended', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2026-11-23T11:00:30Z'));
      const store = makeStore();
      const keyId = freshKeyId();
      const out = await store.admit({ keyId, counters: [tpm(1000, 800)], now: Date.now() });
      if (!admitted(out)) throw new Error('expected admission');
      vi.setSystemTime(new Date('2026-11-23T11:01:05Z'));
      expect((await store.admit({ keyId, counters: [tpm(1000, 900)], now: Date.now() })).status).toBe('admitted');
      await store.settle(out.ticket, { tokenDelta: -800, costDeltaMicros: 0, now: Date.now() });
      const usage = await store.usage(keyId, [tpm(1000, 0)], undefined, Date.now());
      expect(usage.counters[0]?.used).toBe(900);
    });

    it('blocks a key instantly with the reason given, and unblocks it', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      await store.setBlocked(keyId, 'key_revoked');
      expect(await store.admit({ keyId, counters: [rpm(10)], now })).toEqual({ status: 'blocked', reason: 'key_revoked' });
      // Also with no counters at all: the marker check alone.
      expect(await store.admit({ keyId, counters: [], now })).toEqual({ status: 'blocked', reason: 'key_revoked' });
      await store.setBlocked(keyId, 'key_inactive');
      expect(await store.admit({ keyId, counters: [], now })).toEqual({ status: 'blocked', reason: 'key_inactive' });
      await store.setBlocked(keyId, null);
      expect((await store.admit({ keyId, counters: [rpm(10)], now })).status).toBe('admitted');
      const usage = await store.usage(keyId, [rpm(10)], undefined, now);
      expect(usage.counters[0]?.used).toBe(1);
    });

    it('keys sharing a counter id (a rotation lineage) share windows and budget, but each keeps its own marker', async () => {
      const store = makeStore();
      const root = freshKeyId();
      const successor = freshKeyId();
      const now = Date.now();
      const budget = { limitMicros: 1000, period: 'total' as const, periodKey: 'total', resetAt: null, costMicros: 600 };
      expect((await store.admit({ keyId: root, counters: [rpm(2)], budget, now })).status).toBe('admitted');
      // The successor counts on: one request left in the window, and 400 of the budget.
      const next = await store.admit({ keyId: successor, counterId: root, counters: [rpm(2)], budget, now });
      expect(next.status).toBe('budget_exhausted');
      expect((await store.admit({ keyId: successor, counterId: root, counters: [rpm(2)], now })).status).toBe('admitted');
      expect((await store.admit({ keyId: successor, counterId: root, counters: [rpm(2)], now })).status).toBe('rate_limited');
      // The root's grace ends: its marker refuses it alone.
      await store.setBlocked(root, 'key_expired', root);
      expect(await store.admit({ keyId: root, counters: [], now })).toEqual({ status: 'blocked', reason: 'key_expired' });
      expect((await store.admit({ keyId: successor, counterId: root, counters: [], now })).status).toBe('admitted');
      await store.setBlocked(successor, 'key_revoked', root);
      expect(await store.admit({ keyId: successor, counterId: root, counters: [], now })).toEqual({ status: 'blocked', reason: 'key_revoked' });
      const usage = await store.usage(root, [rpm(2)], budget, now);
      expect(usage.counters[0]?.used).toBe(2);
      expect(usage.budget?.spentMicros).toBe(600);
    });

    it('reads usage without consuming anything', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      await store.admit({ keyId, counters: [rpm(5)], now });
      for (let i = 0; i < 3; i++) await store.usage(keyId, [rpm(5)], undefined, now);
      const usage = await store.usage(keyId, [rpm(5)], undefined, now);
      expect(usage.counters[0]).toMatchObject({ name: 'rpm', limit: 5, used: 1, remaining: 4 });
    });

    it('keeps keys apart', async () => {
      const store = makeStore();
      const a = freshKeyId();
      const b = freshKeyId();
      const now = Date.now();
      await store.admit({ keyId: a, counters: [rpm(1)], now });
      expect((await store.admit({ keyId: a, counters: [rpm(1)], now })).status).toBe('rate_limited');
      expect((await store.admit({ keyId: b, counters: [rpm(1)], now })).status).toBe('admitted');
    });

    describe('owners', () => {
      const freshOwner = () => `team {a}:${crypto.randomUUID().slice(0, 8)}`;

      it('300 concurrent requests across several keys of one owner: the owner admits exactly its limit, and refusals name the owner', async () => {
        const store = makeStore();
        const owner = freshOwner();
        const keys = Array.from({ length: 5 }, () => freshKeyId());
        const now = Date.now();
        const budget = budgetSpec({ usd: 1, period: 'day' }, 10_000, now); // 100 requests' worth
        const outcomes = await Promise.all(
          Array.from({ length: 300 }, (_, i) => store.admit({ keyId: keys[i % 5]!, counters: [rpm(1000)], owner: { id: owner, counters: [rpm(1000)], budget }, now })),
        );
        expect(outcomes.filter((o) => o.status === 'admitted')).toHaveLength(100);
        const refused = outcomes.filter((o) => o.status === 'budget_exhausted');
        expect(refused).toHaveLength(200);
        expect(refused.every((o) => o.status === 'budget_exhausted' && o.holder === 'owner')).toBe(true);
        const ownerUsage = await store.ownerUsage(owner, [rpm(1000)], budget, now);
        expect(ownerUsage.counters[0]?.used).toBe(100);
        expect(ownerUsage.budget?.spentMicros).toBe(1_000_000);
        // Each key counted exactly its admitted share, in the owner's shard.
        const perKey = await Promise.all(keys.map((k) => store.usage(k, [rpm(1000)], undefined, now, owner)));
        expect(perKey.reduce((sum, u) => sum + (u.counters[0]?.used ?? 0), 0)).toBe(100);
      });

      it('is all or nothing across holders: a key refusal charges the owner nothing, an owner refusal charges the key nothing', async () => {
        const store = makeStore();
        const owner = freshOwner();
        const keyId = freshKeyId();
        const now = Date.now();
        const ownerPart = { id: owner, counters: [rpm(3), tpm(10_000, 100)] };
        expect((await store.admit({ keyId, counters: [rpm(1)], owner: ownerPart, now })).status).toBe('admitted');
        const byKey = await store.admit({ keyId, counters: [rpm(1)], owner: ownerPart, now });
        expect(byKey).toMatchObject({ status: 'rate_limited', holder: 'key', refusedBy: { name: 'rpm', limit: 1 } });
        expect((await store.ownerUsage(owner, ownerPart.counters, undefined, now)).counters.map((c) => c.used)).toEqual([1, 100]);

        const other = freshKeyId();
        expect((await store.admit({ keyId: other, counters: [rpm(10)], owner: ownerPart, now })).status).toBe('admitted');
        expect((await store.admit({ keyId: other, counters: [rpm(10)], owner: ownerPart, now })).status).toBe('admitted');
        const byOwner = await store.admit({ keyId: other, counters: [rpm(10)], owner: ownerPart, now });
        expect(byOwner).toMatchObject({ status: 'rate_limited', holder: 'owner', refusedBy: { name: 'rpm', limit: 3 } });
        expect((await store.usage(other, [rpm(10)], undefined, now, owner)).counters[0]?.used).toBe(2);
      });

      it('settles the owner with the key: token and budget differences reach both', async () => {
        const store = makeStore();
        const owner = freshOwner();
        const keyId = freshKeyId();
        const now = Date.now();
        const budget = budgetSpec({ usd: 5, period: 'month' }, 600, now);
        const out = await store.admit({ keyId, counters: [tpm(1000, 600)], budget, owner: { id: owner, counters: [tpm(5000, 600)], budget }, now });
        expect(out.status).toBe('admitted');
        if (out.status !== 'admitted') return;
        expect(out.owner?.counters[0]).toMatchObject({ used: 600, remaining: 4400 });
        await store.settle(out.ticket, { tokenDelta: -450, costDeltaMicros: -450, now });
        const key = await store.usage(keyId, [tpm(1000, 0)], budget, now, owner);
        const own = await store.ownerUsage(owner, [tpm(5000, 0)], budget, now);
        expect([key.counters[0]?.used, key.budget?.spentMicros]).toEqual([150, 150]);
        expect([own.counters[0]?.used, own.budget?.spentMicros]).toEqual([150, 150]);
      });

      it('a revoked key is refused in its owner\'s shard too, and other keys of the owner are not', async () => {
        const store = makeStore();
        const owner = freshOwner();
        const keyId = freshKeyId();
        const other = freshKeyId();
        const now = Date.now();
        const ownerPart = { id: owner, counters: [rpm(100)] };
        await store.setBlocked(keyId, 'key_revoked', undefined, owner);
        expect(await store.admit({ keyId, counters: [], owner: ownerPart, now })).toEqual({ status: 'blocked', reason: 'key_revoked' });
        expect(await store.admit({ keyId, counters: [], now })).toEqual({ status: 'blocked', reason: 'key_revoked' });
        expect((await store.admit({ keyId: other, counters: [], owner: ownerPart, now })).status).toBe('admitted');
        await store.setBlocked(keyId, null, undefined, owner);
        expect((await store.admit({ keyId, counters: [], owner: ownerPart, now })).status).toBe('admitted');
      });

      it('keeps owners apart, whatever their names', async () => {
        const store = makeStore();
        const now = Date.now();
        const a = `x}:{y`;
        const b = `x}{:y-${crypto.randomUUID().slice(0, 6)}`;
        const aName = `${a}${crypto.randomUUID().slice(0, 6)}`;
        expect((await store.admit({ keyId: freshKeyId(), counters: [], owner: { id: aName, counters: [rpm(1)] }, now })).status).toBe('admitted');
        expect((await store.admit({ keyId: freshKeyId(), counters: [], owner: { id: aName, counters: [rpm(1)] }, now })).status).toBe('rate_limited');
        expect((await store.admit({ keyId: freshKeyId(), counters: [], owner: { id: b, counters: [rpm(1)] }, now })).status).toBe('admitted');
      });
    });

    describe('credits', () => {
      const spec = (initial: number, cost = 1, refill?: { amount: number; interval: 'day' | 'month' }, now = Date.now()) => creditsSpec({ remaining: initial, ...(refill ? { refill } : {}) }, cost, now)!;

      it('spends credits by the request cost and refuses with credits_exhausted, consuming no window', async () => {
        const store = makeStore();
        const keyId = freshKeyId();
        const now = Date.now();
        expect(await store.admit({ keyId, counters: [rpm(100)], credits: spec(5, 2), now })).toMatchObject({ status: 'admitted', credits: { remaining: 3 } });
        expect(await store.admit({ keyId, counters: [rpm(100)], credits: spec(5, 2), now })).toMatchObject({ status: 'admitted', credits: { remaining: 1 } });
        expect(await store.admit({ keyId, counters: [rpm(100)], credits: spec(5, 2), now })).toEqual({ status: 'credits_exhausted', credits: { remaining: 1, refillAt: null } });
        expect((await store.usage(keyId, [rpm(100)], undefined, now, undefined, spec(5))).counters[0]?.used).toBe(2);
      });

      it('300 concurrent requests spend exactly the balance', async () => {
        const store = makeStore();
        const keyId = freshKeyId();
        const now = Date.now();
        const outcomes = await Promise.all(Array.from({ length: 300 }, () => store.admit({ keyId, counters: [], credits: spec(70), now })));
        expect(outcomes.filter((o) => o.status === 'admitted')).toHaveLength(70);
        expect(outcomes.filter((o) => o.status === 'credits_exhausted')).toHaveLength(230);
      });

      it('refills to the refill amount at the interval boundary (fake Date)', async () => {
        const store = makeStore();
        const keyId = freshKeyId();
        vi.useFakeTimers({ toFake: ['Date'] });
        const day1 = Date.UTC(2026, 10, 23, 23, 59, 0);
        vi.setSystemTime(day1);
        const refill = { amount: 3, interval: 'day' as const };
        expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, day1), now: day1 })).toMatchObject({ status: 'admitted', credits: { remaining: 0, refillAt: Date.UTC(2026, 10, 24) } });
        expect((await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, day1), now: day1 })).status).toBe('credits_exhausted');
        const day2 = Date.UTC(2026, 10, 24, 0, 0, 1);
        vi.setSystemTime(day2);
        for (const left of [2, 1, 0]) expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, day2), now: day2 })).toMatchObject({ status: 'admitted', credits: { remaining: left } });
        expect((await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, day2), now: day2 })).status).toBe('credits_exhausted');
      });

      it('refills once per period even when a request priced before the boundary arrives after one priced after it', async () => {
        // Isolates price a request (its period key) before the store sees it, so around a
        // boundary old-period and new-period requests interleave. Each flip of the stored
        // period used to refill the balance again: a holder could spend the refill many times.
        const store = makeStore();
        const keyId = freshKeyId();
        const refill = { amount: 3, interval: 'day' as const };
        const before = Date.UTC(2026, 10, 23, 23, 59, 59, 999);
        const after = Date.UTC(2026, 10, 24, 0, 0, 0, 1);
        expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, before), now: before })).toMatchObject({ status: 'admitted', credits: { remaining: 0 } });
        expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, after), now: after })).toMatchObject({ status: 'admitted', credits: { remaining: 2 } });
        // Late arrivals priced in the old period, and an admin change priced there, spend and
        // change the new period's balance: no second refill.
        expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, before), now: before })).toMatchObject({ status: 'admitted', credits: { remaining: 1 } });
        expect((await store.changeCredits(keyId, spec(1, 1, refill, before), { add: 1 })).remaining).toBe(2);
        expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, after), now: after })).toMatchObject({ status: 'admitted', credits: { remaining: 1 } });
        expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, before), now: before })).toMatchObject({ status: 'admitted', credits: { remaining: 0 } });
        expect((await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, after), now: after })).status).toBe('credits_exhausted');
        expect((await store.usage(keyId, [], undefined, after, undefined, spec(1, 1, refill, before))).credits?.remaining).toBe(0);
        // The next period still refills.
        const next = Date.UTC(2026, 10, 25, 0, 0, 1);
        expect(await store.admit({ keyId, counters: [], credits: spec(1, 1, refill, next), now: next })).toMatchObject({ status: 'admitted', credits: { remaining: 2 } });
      });

      it('adds to and sets the balance, never below zero, and keeps it in the owner shard for owned keys', async () => {
        const store = makeStore();
        const keyId = freshKeyId();
        const now = Date.now();
        expect((await store.changeCredits(keyId, spec(5), { add: 10 })).remaining).toBe(15);
        expect((await store.changeCredits(keyId, spec(5), { set: 1 })).remaining).toBe(1);
        expect((await store.admit({ keyId, counters: [], credits: spec(5), now })).status).toBe('admitted');
        expect((await store.admit({ keyId, counters: [], credits: spec(5), now })).status).toBe('credits_exhausted');
        expect((await store.usage(keyId, [], undefined, now, undefined, spec(5))).credits?.remaining).toBe(0);

        const owner = `credits-owner-${crypto.randomUUID().slice(0, 8)}`;
        const owned = freshKeyId();
        expect((await store.changeCredits(owned, spec(0), { set: 2 }, owner)).remaining).toBe(2);
        const ownerPart = { id: owner, counters: [rpm(100)] };
        expect((await store.admit({ keyId: owned, counters: [], credits: spec(0), owner: ownerPart, now })).status).toBe('admitted');
        expect((await store.admit({ keyId: owned, counters: [], credits: spec(0), owner: ownerPart, now })).status).toBe('admitted');
        expect((await store.admit({ keyId: owned, counters: [], credits: spec(0), owner: ownerPart, now })).status).toBe('credits_exhausted');
        // A credits refusal charges the owner nothing.
        expect((await store.ownerUsage(owner, [rpm(100)], undefined, now)).counters[0]?.used).toBe(2);
      });
    });

    describe('leases and release', () => {
      const lease = (keyMax?: number, ownerMax?: number, ttlMs = 60_000) => ({ id: crypto.randomUUID(), expiresAt: Date.now() + ttlMs, keyMax, ownerMax });

      it('admits at most max_concurrent in flight, names the holder, and admits again after a release', async () => {
        const store = makeStore();
        const keyId = freshKeyId();
        const now = Date.now();
        const held = await Promise.all(Array.from({ length: 50 }, () => store.admit({ keyId, counters: [rpm(1000)], lease: lease(3), now })));
        const admittedOnes = held.filter(admitted);
        expect(admittedOnes).toHaveLength(3);
        expect(held.filter((o) => o.status === 'too_many_concurrent_requests')).toHaveLength(47);
        expect(held.find((o) => o.status === 'too_many_concurrent_requests')).toEqual({ status: 'too_many_concurrent_requests', holder: 'key', limit: 3 });
        // Refused requests consumed no window.
        expect((await store.usage(keyId, [rpm(1000)], undefined, now)).counters[0]?.used).toBe(3);
        await store.release(admittedOnes[0]!.ticket, false, now);
        expect((await store.admit({ keyId, counters: [], lease: lease(3), now })).status).toBe('admitted');
        expect((await store.admit({ keyId, counters: [], lease: lease(3), now })).status).toBe('too_many_concurrent_requests');
      });

      it("an owner's max_concurrent spans its keys, in the owner's shard", async () => {
        const store = makeStore();
        const owner = `lease-owner-${crypto.randomUUID().slice(0, 8)}`;
        const now = Date.now();
        const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => store.admit({ keyId: `key_LEASE${i % 4}${owner.slice(-8).toUpperCase()}`, counters: [], owner: { id: owner, counters: [] }, lease: lease(undefined, 5), now })));
        expect(outcomes.filter(admitted)).toHaveLength(5);
        expect(outcomes.find((o) => o.status === 'too_many_concurrent_requests')).toMatchObject({ holder: 'owner', limit: 5 });
      });

      it('leases expire on their own when never released', async () => {
        const store = makeStore();
        const keyId = freshKeyId();
        expect((await store.admit({ keyId, counters: [], lease: lease(1, undefined, 1), now: Date.now() })).status).toBe('admitted');
        await new Promise((r) => setTimeout(r, 20));
        expect((await store.admit({ keyId, counters: [], lease: lease(1), now: Date.now() })).status).toBe('admitted');
      });

      it('a refunding release gives back request windows, credits, and (with settle) tokens and budget, for key and owner', async () => {
        const store = makeStore();
        const keyId = freshKeyId();
        const owner = `refund-owner-${crypto.randomUUID().slice(0, 8)}`;
        const now = Date.now();
        const budget = budgetSpec({ usd: 5, period: 'day' }, 500, now);
        const credits = creditsSpec({ remaining: 10 }, 2, now);
        const input = { keyId, counters: [rpm(10), tpm(1000, 300)], budget, credits, owner: { id: owner, counters: [rpm(10)], budget }, lease: lease(1), now };
        const out = await store.admit(input);
        expect(out.status).toBe('admitted');
        if (!admitted(out)) return;
        await store.release(refundTicket(out.ticket, input), true, now);
        await store.settle(out.ticket, { tokenDelta: -300, costDeltaMicros: -500, now });
        const key = await store.usage(keyId, [rpm(10), tpm(1000, 0)], budget, now, owner, credits);
        expect([key.counters.map((c) => c.used), key.budget?.spentMicros, key.credits?.remaining]).toEqual([[0, 0], 0, 10]);
        const own = await store.ownerUsage(owner, [rpm(10)], budget, now);
        expect([own.counters[0]?.used, own.budget?.spentMicros]).toEqual([0, 0]);
        expect((await store.admit({ ...input, lease: lease(1) })).status).toBe('admitted');
      });
    });

    it('a replayed token consumes nothing: no window, budget, credits or lease of the key or its owner', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const owner = `replay-owner {x}:${crypto.randomUUID().slice(0, 8)}`;
      const now = Date.now();
      const budget = budgetSpec({ usd: 5, period: 'day' }, 100, now);
      const credits = creditsSpec({ remaining: 10 }, 1, now);
      const replay = { id: `{jti}:${crypto.randomUUID()}`, expiresAt: now + 60_000 };
      const input = (leaseId: string) => ({
        keyId,
        counters: [rpm(100)],
        budget,
        credits,
        owner: { id: owner, counters: [rpm(100)], budget },
        lease: { id: leaseId, expiresAt: now + 60_000, keyMax: 2, ownerMax: 2 },
        now,
        replay,
      });
      expect((await store.admit(input(crypto.randomUUID()))).status).toBe('admitted');
      expect(await store.admit(input(crypto.randomUUID()))).toEqual({ status: 'replayed' });
      const key = await store.usage(keyId, [rpm(100)], budget, now, owner, credits);
      expect([key.counters[0]?.used, key.budget?.spentMicros, key.credits?.remaining]).toEqual([1, 100, 9]);
      const own = await store.ownerUsage(owner, [rpm(100)], budget, now);
      expect([own.counters[0]?.used, own.budget?.spentMicros]).toEqual([1, 100]);
      // The replay took no lease: one more fresh request fits under max_concurrent 2.
      expect((await store.admit({ ...input(crypto.randomUUID()), replay: { id: crypto.randomUUID(), expiresAt: now + 60_000 } })).status).toBe('admitted');
    });

    it('admits a signed request token id once: a second admission with it is refused as replayed', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const replay = { id: crypto.randomUUID(), expiresAt: now + 60_000 };
      expect((await store.admit({ keyId, counters: [rpm(100)], now, replay })).status).toBe('admitted');
      expect((await store.admit({ keyId, counters: [rpm(100)], now, replay })).status).toBe('replayed');
      // Without limits too (a route with no windows still checks the token id).
      const bare = { id: crypto.randomUUID(), expiresAt: now + 60_000 };
      expect((await store.admit({ keyId, counters: [], now, replay: bare })).status).toBe('admitted');
      expect((await store.admit({ keyId, counters: [], now, replay: bare })).status).toBe('replayed');
      // The replayed admission consumed nothing.
      expect((await store.usage(keyId, [rpm(100)], undefined, now)).counters[0]?.used).toBe(1);
    });

    it('of 50 concurrent admissions with one token id exactly one is admitted', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const replay = { id: crypto.randomUUID(), expiresAt: now + 60_000 };
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.admit({ keyId, counters: [rpm(1000)], now, replay })));
      expect(outcomes.filter((o) => o.status === 'admitted')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'replayed')).toHaveLength(49);
    });

    it('a token id refused by a limit is not recorded; token ids are per key; a revoked key reads as blocked first', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const other = freshKeyId();
      const now = Date.now();
      const replay = { id: 'same-jti', expiresAt: now + 60_000 };
      expect((await store.admit({ keyId, counters: [rpm(0)], now, replay })).status).toBe('rate_limited');
      expect((await store.admit({ keyId, counters: [rpm(1)], now, replay })).status).toBe('admitted');
      expect((await store.admit({ keyId: other, counters: [rpm(1)], now, replay })).status).toBe('admitted');
      await store.setBlocked(other, 'key_revoked');
      expect(await store.admit({ keyId: other, counters: [], now, replay })).toEqual({ status: 'blocked', reason: 'key_revoked' });
    });

    it('forgets a token id once its expiry has passed', async () => {
      const store = makeStore();
      const keyId = freshKeyId();
      const now = Date.now();
      const replay = { id: crypto.randomUUID(), expiresAt: now + 1_000 };
      expect((await store.admit({ keyId, counters: [], now, replay })).status).toBe('admitted');
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const later = Date.now();
      expect((await store.admit({ keyId, counters: [], now: later, replay: { ...replay, expiresAt: later + 1_000 } })).status).toBe('admitted');
    });
  });
}
