// The circuit breaker counts only faults of the store itself, and admission amounts are
// checked and bounded before they reach a store (src/limits/guard.ts, admit-input.ts).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedSettlement, checkAdmitInput, MAX_AMOUNT, MAX_SETTLEMENT_DELTA } from '../../src/limits/admit-input';
import { GroupCommit } from '../../src/limits/group-commit';
import { isRequestFault, StoreGuard, StoreInputError } from '../../src/limits/guard';
import type { AdmitInput } from '../../src/limits/store';

const fail = (message: string) => () => Promise.reject(new Error(message));

describe('the limit-store circuit breaker', () => {
  it('opens after 5 consecutive store faults (network, HTTP, timeout)', async () => {
    const guard = new StoreGuard('test');
    for (const message of ['fetch failed', 'Network connection lost.', 'Upstash HTTP 502', 'Durable Object is overloaded.']) {
      expect((await guard.run('admit', 1000, fail(message))).ok).toBe(false);
    }
    expect(guard.open).toBe(false);
    const timedOut = await guard.run('admit', 1, () => new Promise(() => undefined));
    expect(timedOut).toMatchObject({ ok: false, reason: 'timeout' });
    expect(guard.open).toBe(true);
    expect(await guard.run('admit', 1000, () => Promise.resolve(1))).toMatchObject({ ok: false, reason: 'circuit_open' });
  });

  it('never opens on errors a request or key caused, however many', async () => {
    const guard = new StoreGuard('test');
    const requestFaults = [
      'Command failed: ERR value is not an integer or out of range',
      'Command failed: ERR increment or decrement would overflow',
      'WRONGTYPE Operation against a key holding the wrong kind of value',
      'Command failed: ERR Error running script: value is not a valid float',
      'NOT NULL constraint failed: counters.used: SQLITE_CONSTRAINT',
      'datatype mismatch',
    ];
    for (let i = 0; i < 50; i++) {
      const outcome = await guard.run('admit', 1000, fail(requestFaults[i % requestFaults.length]!));
      expect(outcome).toMatchObject({ ok: false, reason: 'rejected' });
    }
    expect((await guard.run('admit', 1000, () => Promise.reject(new StoreInputError('bad cost')))).ok).toBe(false);
    expect(guard.open).toBe(false);
    expect(guard.stats.failures).toBe(0);
    expect(await guard.run('admit', 1000, () => Promise.resolve('fine'))).toMatchObject({ ok: true, value: 'fine' });
  });

  it('does not let request faults interleaved with store faults reset or extend the streak', async () => {
    const guard = new StoreGuard('test');
    for (let i = 0; i < 4; i++) {
      await guard.run('admit', 1000, fail('fetch failed'));
      await guard.run('admit', 1000, fail('ERR value is not an integer or out of range'));
    }
    expect(guard.open).toBe(false);
    await guard.run('admit', 1000, fail('fetch failed'));
    expect(guard.open).toBe(true);
  });

  it('counts a failed store call once, however many batched admissions it answers', async () => {
    // One transient fault of one /pipeline request or RPC must not open the breaker (and with it
    // switch off limits for every key) just because group commit put 8 admissions in it.
    const guard = new StoreGuard('test');
    const failing = () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('fetch failed')), 5));
    const gc = new GroupCommit<number, number>(failing, { maxBatch: 32, callTtlMs: 1000, maxShards: 10 });
    // The first admission goes out alone; the other 8 wait and share the second call.
    const outcomes = await Promise.all(Array.from({ length: 9 }, (_, i) => guard.run('admit', 1000, () => gc.submit('s', i))));
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(Array(9).fill('error'));
    expect(gc.stats.calls).toBe(2);
    expect(guard.stats.failures).toBe(2);
    expect(guard.open).toBe(false);
    // Three more failed calls make five: open.
    for (let i = 0; i < 3; i++) await guard.run('admit', 1000, () => gc.submit('s', i));
    expect(guard.open).toBe(true);
  });

  it('counts a store call that hangs once, with the admissions it carried and those queued behind it', async () => {
    const guard = new StoreGuard('test');
    const gc = new GroupCommit<number, number>(() => new Promise<never>(() => undefined), { maxBatch: 4, callTtlMs: 60_000, maxShards: 10 });
    // One call of 1 hangs; 8 queue behind it (and would go out 4 by 4): all time out.
    const outcomes = await Promise.all(Array.from({ length: 9 }, (_, i) => guard.run('admit', 20, () => gc.submit('s', i))));
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(Array(9).fill('timeout'));
    expect(guard.stats.failures).toBe(1);
    expect(guard.open).toBe(false);
  });

  it('counts admissions dropped unsent from one queue once', async () => {
    // Waiters left past callTtlMs behind a hung call are dropped together by the next call;
    // their guards (here slower than callTtlMs, as when timers run late under load) see errors.
    const guard = new StoreGuard('test');
    const never = new Promise<never>(() => undefined);
    let calls = 0;
    const gc = new GroupCommit<number, number>(() => (calls++ === 0 ? never : Promise.resolve([{ ok: true, value: 0 }])), { maxBatch: 32, callTtlMs: 20, maxShards: 10 });
    void guard.run('admit', 60_000, () => gc.submit('s', 0));
    const dropped = Array.from({ length: 8 }, (_, i) => guard.run('admit', 60_000, () => gc.submit('s', i + 1)));
    await new Promise((r) => setTimeout(r, 40));
    expect(await guard.run('admit', 60_000, () => gc.submit('s', 9))).toMatchObject({ ok: true });
    expect((await Promise.all(dropped)).map((o) => (o.ok ? 'ok' : o.reason))).toEqual(Array(8).fill('error'));
    expect(guard.stats.failures).toBe(1);
  });

  it('tells store faults from request faults by the error alone', () => {
    expect(isRequestFault(new Error('fetch failed'))).toBe(false);
    expect(isRequestFault(new Error('Service in maintenance'))).toBe(false);
    expect(isRequestFault(new Error('OOM command not allowed when used memory > maxmemory'))).toBe(false);
    expect(isRequestFault(new Error('ERR max requests limit exceeded'))).toBe(false);
    expect(isRequestFault(new StoreInputError('x'))).toBe(true);
  });
});

const admit = (cost: number, limit: number, budgetCost = 0, budgetLimit = 1_000_000): AdmitInput => ({
  keyId: 'key_x',
  counters: [{ name: 'tpm', kind: 'tokens', limit, windowMs: 60_000, cost }],
  budget: { limitMicros: budgetLimit, period: 'day', periodKey: '2026-12-01', resetAt: 1, costMicros: budgetCost },
  now: 1_764_547_200_000,
});

describe('admission amounts are checked before the store', () => {
  it('refuses NaN, infinite and negative amounts without calling the store', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, -1]) {
      expect(checkAdmitInput(admit(bad, 10)).ok).toBe(false);
      expect(checkAdmitInput(admit(1, 10, bad)).ok).toBe(false);
    }
    expect(checkAdmitInput(admit(1, Number.NaN)).ok).toBe(false);
    expect(checkAdmitInput(admit(1, -1)).ok).toBe(false);
  });

  it('passes sound input through untouched (same object)', () => {
    const input = admit(5, 10, 20);
    const checked = checkAdmitInput(input);
    expect(checked.ok && checked.input).toBe(input);
  });

  it('bounds any finite amount and limit to safe integers that refuse exactly when the originals would', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ min: 0, max: 1e300, noNaN: true }), fc.integer({ min: 0, max: 1000 })),
        fc.oneof(fc.double({ min: 0, max: 1e300, noNaN: true }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 1000 })),
        fc.integer({ min: 0, max: MAX_AMOUNT }),
        (cost, limit, used) => {
          const checked = checkAdmitInput(admit(cost, limit, cost, limit));
          expect(checked.ok).toBe(true);
          if (!checked.ok) return;
          const c = checked.input.counters[0]!;
          const b = checked.input.budget!;
          for (const n of [c.cost, c.limit, b.costMicros, b.limitMicros]) expect(Number.isSafeInteger(n) && n >= 0 && n <= MAX_AMOUNT + 1).toBe(true);
          // Limits past MAX_AMOUNT are read as MAX_AMOUNT; below it nothing changes.
          const effective = Math.min(Math.floor(limit), MAX_AMOUNT);
          expect(c.limit).toBe(effective);
          const fits = (x: number) => used + x <= effective;
          expect(fits(c.cost)).toBe(fits(Math.ceil(cost)));
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('bounds settlement deltas a hostile upstream chooses, and settles nothing for non-finite ones', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer()), fc.oneof(fc.double(), fc.integer()), (tokens, cost) => {
        const s = boundedSettlement({ tokenDelta: tokens, costDeltaMicros: cost, now: 1 });
        for (const n of [s.tokenDelta, s.costDeltaMicros]) expect(Number.isSafeInteger(n) && Math.abs(n) <= MAX_SETTLEMENT_DELTA).toBe(true);
        if (!Number.isFinite(tokens)) expect(s.tokenDelta).toBe(0);
      }),
      { numRuns: 2_000 },
    );
  });
});
