// Group commit on its own, with a sender the test controls: when calls go out, what they
// carry, and that no shard can be held by a call that never ends.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupCommit, GroupCommitTimeout, type Settled } from '../../src/limits/group-commit';
import { StoreGuard } from '../../src/limits/guard';

interface Call {
  shard: string;
  inputs: number[];
  answer: (results?: Settled<string>[]) => void;
  fail: (error: unknown) => void;
}

/** A sender whose calls stay in flight until the test answers them. */
function controlledSender() {
  const calls: Call[] = [];
  const send = (shard: string, inputs: number[]) =>
    new Promise<Settled<string>[]>((resolve, reject) => {
      calls.push({
        shard,
        inputs,
        answer: (results) => resolve(results ?? inputs.map((i) => ({ ok: true, value: `${shard}:${i}` }))),
        fail: reject,
      });
    });
  return { calls, send };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const options = (maxBatch = 32, callTtlMs = 10_000) => ({ maxBatch, callTtlMs, maxShards: 100 });

describe('group commit', () => {
  it('sends an admission at once, alone, when its shard is idle', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options());
    const result = gc.submit('a', 1);
    // Sent before submit() returned: no timer, no added wait.
    expect(calls.map((c) => c.inputs)).toEqual([[1]]);
    calls[0]!.answer();
    expect(await result).toBe('a:1');
    await settle();
    expect(gc.shards).toBe(0);
  });

  it('sends what arrived while a call was in flight together in the next call, each getting its own answer', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options());
    const first = gc.submit('a', 1);
    const waiting = [2, 3, 4].map((i) => gc.submit('a', i));
    const other = gc.submit('b', 9);
    await settle();
    expect(calls.map((c) => [c.shard, c.inputs])).toEqual([
      ['a', [1]],
      ['b', [9]],
    ]);
    calls[0]!.answer();
    expect(await first).toBe('a:1');
    await settle();
    expect(calls[2]!.inputs).toEqual([2, 3, 4]);
    calls[2]!.answer([
      { ok: true, value: 'two' },
      { ok: false, error: new Error('three failed') },
      { ok: true, value: 'four' },
    ]);
    const results = await Promise.allSettled(waiting);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['two', 'three failed', 'four']);
    calls[1]!.answer();
    expect(await other).toBe('b:9');
    expect(gc.stats).toEqual({ calls: 3, sent: 5 });
  });

  it('never puts more than maxBatch admissions in one call', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options(3));
    const all = Array.from({ length: 8 }, (_, i) => gc.submit('a', i));
    for (let n = 0; n < 4; n++) {
      await settle();
      calls[n]!.answer();
    }
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `a:${i}`));
    expect(calls.map((c) => c.inputs)).toEqual([[0], [1, 2, 3], [4, 5, 6], [7]]);
  });

  it('with maxBatch 1 makes one call per admission', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options(1));
    const all = [1, 2, 3].map((i) => gc.submit('a', i));
    expect(calls.map((c) => c.inputs)).toEqual([[1], [2], [3]]);
    for (const c of calls) c.answer();
    expect(await Promise.all(all)).toEqual(['a:1', 'a:2', 'a:3']);
  });

  it('fails every admission of a call that fails, and the shard goes on', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options());
    const first = gc.submit('a', 1);
    const second = gc.submit('a', 2);
    calls[0]!.fail(new Error('network'));
    await expect(first).rejects.toThrow('network');
    await settle();
    calls[1]!.fail(new Error('network again'));
    await expect(second).rejects.toThrow('network again');
    const third = gc.submit('a', 3);
    calls[2]!.answer();
    expect(await third).toBe('a:3');
  });

  it('answers an admission the store left out with an error, never a hang', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options());
    const first = gc.submit('a', 1);
    calls[0]!.answer([]);
    await expect(first).rejects.toThrow(/fewer admissions/);
  });

  it('is not held by a call that never ends: after callTtlMs a new admission goes out, and stale waiters are dropped unsent', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options(32, 30));
    void gc.submit('a', 1); // never answered
    const stale = expect(gc.submit('a', 2)).rejects.toBeInstanceOf(GroupCommitTimeout);
    await new Promise((r) => setTimeout(r, 60));
    const fresh = gc.submit('a', 3);
    await stale;
    expect(calls.map((c) => c.inputs)).toEqual([[1], [3]]);
    calls[1]!.answer();
    expect(await fresh).toBe('a:3');
  });

  it('sends the admissions waiting behind a call that never ends once it stops counting, without waiting for another arrival', async () => {
    // As in the gateway: each admission under a guard whose timeout is callTtlMs.
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options(32, 100));
    const guard = new StoreGuard('test');
    const hung = guard.run('admit', 100, () => gc.submit('a', 1)); // never answered
    await new Promise((r) => setTimeout(r, 50));
    const queued = guard.run('admit', 100, () => gc.submit('a', 2));
    // No other admission arrives: 2 goes out when the first call stops counting (its leader
    // gives up on it), with time left before its own timeout.
    expect(await hung).toMatchObject({ ok: false, reason: 'timeout' });
    await settle();
    expect(calls.map((c) => c.inputs)).toEqual([[1], [2]]);
    calls[1]!.answer();
    expect(await queued).toMatchObject({ ok: true, value: 'a:2' });
  });

  it('answers an arrival that finds the shard free but does not fit in the call it leads', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, options(2));
    const first = gc.submit('a', 1);
    const queued = [2, 3].map((i) => gc.submit('a', i));
    calls[0]!.answer();
    // This continuation runs when the call has ended, before 2 and 3 have woken: the shard is
    // free with two waiting, so the arrival leads a call of 2 and 3 and is left over.
    await first;
    const arrival = gc.submit('a', 4);
    await settle();
    calls[1]!.answer();
    await Promise.all(queued);
    await settle();
    expect(calls.map((c) => c.inputs)).toEqual([[1], [2, 3], [4]]);
    calls[2]!.answer();
    expect(await arrival).toBe('a:4');
  });

  it('makes room for new shards by dropping waiters past their time that nobody sent (their requests gone)', async () => {
    const { calls, send } = controlledSender();
    const gc = new GroupCommit(send, { maxBatch: 32, callTtlMs: 30, maxShards: 2 });
    void gc.submit('a', 1); // never answered
    const stranded = gc.submit('a', 2);
    void gc.submit('b', 3); // never answered either, and still in flight below
    await new Promise((r) => setTimeout(r, 60));
    void gc.submit('b', 4); // b busy again: tracked
    // A third shard: 'a' holds only a stale waiter and no call in flight, so it is swept.
    const first = gc.submit('c', 5);
    const second = gc.submit('c', 6);
    await expect(stranded).rejects.toBeInstanceOf(GroupCommitTimeout);
    // 'c' is tracked (batched): its second admission waits for the first call instead of leaving alone.
    expect(calls.filter((c) => c.shard === 'c').map((c) => c.inputs)).toEqual([[5]]);
    calls.find((c) => c.shard === 'c')!.answer();
    expect(await first).toBe('c:5');
    await settle();
    calls.filter((c) => c.shard === 'c')[1]!.answer();
    expect(await second).toBe('c:6');
  });

  it('property: every admission is sent once, in arrival order per shard, batches within maxBatch, and answered with its own result', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.record({ submit: fc.constantFrom('a', 'b', 'c') }), fc.constant({ answer: true })), { maxLength: 60 }),
        // 2 and up: 1 turns group commit off (tested above).
        fc.integer({ min: 2, max: 5 }),
        async (steps, maxBatch) => {
          const { calls, send } = controlledSender();
          const gc = new GroupCommit(send, options(maxBatch));
          const pending: Promise<string>[] = [];
          const submitted: [string, number][] = [];
          let answered = 0;
          for (const step of steps) {
            if ('submit' in step) {
              const i = submitted.length;
              submitted.push([step.submit, i]);
              pending.push(gc.submit(step.submit, i));
            } else if (answered < calls.length) calls[answered++]!.answer();
            await settle();
            // One call in flight per shard at a time.
            const open = calls.slice(answered).map((c) => c.shard);
            expect(new Set(open).size).toBe(open.length);
          }
          // Drain: answer every call until all are answered.
          for (let spins = 0; answered < calls.length || spins < 2; spins++) {
            while (answered < calls.length) calls[answered++]!.answer();
            await settle();
            if (spins > 500) throw new Error('did not drain');
          }
          const results = await Promise.all(pending);
          expect(results).toEqual(submitted.map(([shard, i]) => `${shard}:${i}`));
          const sent = calls.flatMap((c) => c.inputs);
          expect([...sent].sort((x, y) => x - y)).toEqual(submitted.map(([, i]) => i));
          for (const c of calls) expect(c.inputs.length).toBeLessThanOrEqual(maxBatch);
          for (const shard of ['a', 'b', 'c']) {
            const order = calls.filter((c) => c.shard === shard).flatMap((c) => c.inputs);
            expect(order).toEqual([...order].sort((x, y) => x - y));
          }
          expect(gc.shards).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
