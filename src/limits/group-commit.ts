// Group commit for admissions: while one store call of a shard is in flight, the admissions
// that arrive for the same shard wait, and go out together in the next call. When the shard is
// idle an admission leaves at once, alone: no added wait. Each admission in a call is still
// its own atomic unit on the store (its own Lua script run, its own Durable Object
// transaction), so a batch is exactly as exact, and as all-or-nothing per request, as single
// calls; it only shares the round trip.
//
// Workers rules this is built around:
// - A call is always made from the context of a request that waits in it (the arrival that
//   finds the shard idle, or a waiter woken when the previous call ends), never from a request
//   that has already been answered, whose I/O the runtime may cancel. The leader hands the
//   call to its own waitUntil when it has one, so a client leaving early does not cancel the
//   call the other waiters depend on.
// - Waiters are woken by promise resolution from another request's context; the runtime runs
//   their continuations in their own context (promise context tagging), so each waiter's
//   upstream fetch belongs to its own request.
// - A waiting request must have I/O of its own pending while it waits: workerd cancels a request
//   whose only pending work is a promise another request will settle ("the script will never
//   generate a response": measured as 500s under load without it). Every caller waits inside
//   StoreGuard.run, whose timeout timer is that I/O; a caller without one would need its own.
// - Nothing can hold a shard forever: a call older than `callTtlMs` no longer counts as in
//   flight (its waiters' own timeouts have answered them), the waiters behind it are woken when
//   a caller gives up on it (see gaveUp), and a waiter older than `callTtlMs` is dropped from
//   the next batch with a timeout error instead of being sent late.

import { tagCall } from './shared-call';

export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

/** Sends every input in one store call; one settled result per input, in order. */
export type BatchSend<I, O> = (shard: string, inputs: I[]) => Promise<Settled<O>[]>;

export interface GroupCommitOptions {
  /** Most admissions in one call; 1 turns group commit off (every admission its own call). */
  maxBatch: number;
  /** How long a call counts as in flight, and how long an admission may wait to be sent. */
  callTtlMs: number;
  /** Shards tracked at once; past it an admission goes out alone (memory bound). */
  maxShards: number;
}

/** Defaults for what a store is not given (tests build stores directly). */
export function groupCommitOptions(given: Partial<GroupCommitOptions>): GroupCommitOptions {
  return { maxBatch: given.maxBatch ?? 32, callTtlMs: given.callTtlMs ?? 1000, maxShards: given.maxShards ?? 1000 };
}

/** An admission dropped before it was sent because it waited past `callTtlMs`. */
export class GroupCommitTimeout extends Error {
  override readonly name = 'GroupCommitTimeout';
}

interface Waiter<I, O> {
  input: I;
  since: number;
  taken: boolean;
  /** The call it went out in (the breaker counts a call once: shared-call.ts). */
  call: object | undefined;
  /** Wakes the waiter when a call of its shard ends (its own promise: see wait()). */
  wake: (() => void) | null;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
  result: Promise<O>;
}

interface Shard<I, O> {
  /** 0 when idle; else when the call in flight stops counting as in flight. */
  busyUntil: number;
  /** The latest call until it ends (in flight while busy): what a waiter not yet sent waits behind. */
  current: object | undefined;
  waiting: Waiter<I, O>[];
}

export class GroupCommit<I, O> {
  readonly #shards = new Map<string, Shard<I, O>>();
  /** Store calls made and admissions sent, for tests and the bench's store-call figure. */
  readonly stats = { calls: 0, sent: 0 };

  constructor(
    private readonly send: BatchSend<I, O>,
    readonly opts: GroupCommitOptions,
  ) {}

  /**
   * The admission's outcome. `keepAlive` is the caller's waitUntil: when this caller ends up
   * making the call, the call is handed to it so it outlives the caller's own response.
   */
  submit(shardName: string, input: I, keepAlive?: (call: Promise<unknown>) => void): Promise<O> {
    if (this.opts.maxBatch <= 1) return this.alone(shardName, input);
    let shard = this.#shards.get(shardName);
    if (!shard) {
      if (this.#shards.size >= this.opts.maxShards && !this.sweep()) return this.alone(shardName, input);
      shard = newShard();
      this.#shards.set(shardName, shard);
    }
    const waiter = newWaiter<I, O>(input);
    shard.waiting.push(waiter);
    const tag = { call: () => waiter.call ?? shard.current, gaveUp: () => this.gaveUp(shardName, shard) };
    if (!busy(shard)) {
      this.flush(shardName, shard, keepAlive);
      // Left out of a full call it leads (waiters ahead had not woken yet): it waits like them.
      if (waiter.taken) return tagCall(waiter.result, tag);
    }
    return tagCall(this.wait(shardName, shard, waiter, keepAlive), tag);
  }

  /** Waits for the calls ahead; when one ends and this admission was not taken, leads the next. */
  private async wait(shardName: string, shard: Shard<I, O>, waiter: Waiter<I, O>, keepAlive?: (call: Promise<unknown>) => void): Promise<O> {
    const settled = waiter.result.then(
      () => true,
      () => true,
    );
    for (;;) {
      // The wake-up is a promise of this request's own: the runtime runs a promise's
      // continuations in the context that created it, and cancels them when that request has
      // ended, so a promise shared by all waiters would strand them once its creator finished.
      const woken = new Promise<boolean>((resolve) => (waiter.wake = () => resolve(false)));
      if (await Promise.race([settled, woken])) return waiter.result;
      if (!waiter.taken && !busy(shard)) this.flush(shardName, shard, keepAlive);
      if (waiter.taken) return waiter.result;
    }
  }

  /**
   * A caller gave up on an admission of the shard (its timeout). A call that never ends only
   * stops counting as in flight, and nothing else would wake the waiters behind it then: they
   * go out now rather than at the next arrival. The leader of a call made on arrival times out
   * just as its call stops counting (callTtlMs is the admission timeout), so a hung call wakes
   * its waiters on time, with no timer of its own on the hot path.
   */
  private gaveUp(shardName: string, shard: Shard<I, O>): void {
    if (shard.waiting.length > 0 && !busy(shard)) this.woken(shardName, shard);
  }

  /** Sends what waits on the shard (up to maxBatch) in one call, from the caller's context. */
  private flush(shardName: string, shard: Shard<I, O>, keepAlive?: (call: Promise<unknown>) => void): void {
    const now = Date.now();
    const call = {};
    // A waiter dropped unsent names the call it waited behind (the breaker counts that one once).
    this.dropStale(shard, now, shard.current ?? call);
    const batch = shard.waiting.splice(0, this.opts.maxBatch);
    if (batch.length === 0) return;
    const busyUntil = now + this.opts.callTtlMs;
    for (const w of batch) {
      w.taken = true;
      w.call = call;
    }
    shard.busyUntil = busyUntil;
    shard.current = call;
    this.stats.calls++;
    this.stats.sent += batch.length;
    // The shard is free again before anyone hears back, so an admission made right after this
    // answer goes out at once instead of waiting on a call that has ended.
    const ended = () => {
      if (shard.busyUntil === busyUntil) shard.busyUntil = 0;
      if (shard.current === call) shard.current = undefined;
    };
    const done = this.send(
      shardName,
      batch.map((w) => w.input),
    ).then(
      (results) => {
        ended();
        batch.forEach((w, i) => {
          const r = results[i];
          if (r === undefined) w.reject(new Error('the store answered fewer admissions than were sent'));
          else if (r.ok) w.resolve(r.value);
          else w.reject(r.error);
        });
        this.woken(shardName, shard);
      },
      (error: unknown) => {
        ended();
        for (const w of batch) w.reject(error);
        this.woken(shardName, shard);
      },
    );
    keepAlive?.(done);
  }

  /** Wakes the waiters of a call that ended; forgets the shard when nothing is left on it. */
  private woken(shardName: string, shard: Shard<I, O>): void {
    for (const w of shard.waiting) {
      const wake = w.wake;
      w.wake = null;
      wake?.();
    }
    if (shard.waiting.length === 0 && !busy(shard) && this.#shards.get(shardName) === shard) this.#shards.delete(shardName);
  }

  /** One admission, one call (group commit off, or no room to track another shard). */
  private async alone(shardName: string, input: I): Promise<O> {
    this.stats.calls++;
    this.stats.sent++;
    const [r] = await this.send(shardName, [input]);
    if (r === undefined) throw new Error('the store answered no admission');
    if (!r.ok) throw r.error;
    return r.value;
  }

  /** Rejects, unsent, the waiters that waited past callTtlMs; `behind`: the call they waited behind. */
  private dropStale(shard: Shard<I, O>, now: number, behind: object | undefined): void {
    let kept = 0;
    for (const w of shard.waiting) {
      if (now - w.since <= this.opts.callTtlMs) {
        shard.waiting[kept++] = w;
        continue;
      }
      w.taken = true;
      w.call = behind;
      w.reject(new GroupCommitTimeout('the admission waited too long for its store call'));
    }
    shard.waiting.length = kept;
  }

  /** Drops idle shards; true when there is room for another. */
  private sweep(): boolean {
    const now = Date.now();
    for (const [name, s] of this.#shards) {
      if (busy(s)) continue;
      // Waiters past their time whose requests are gone (nobody woke to send them) go too, as
      // flush() would drop them: a shard of such waiters alone must not stay tracked for ever.
      this.dropStale(s, now, s.current);
      if (s.waiting.length === 0) this.#shards.delete(name);
    }
    return this.#shards.size < this.opts.maxShards;
  }

  /** Shards tracked now (tests: the map empties when every shard is idle). */
  get shards(): number {
    return this.#shards.size;
  }
}

function busy(shard: { busyUntil: number }): boolean {
  return shard.busyUntil !== 0 && Date.now() < shard.busyUntil;
}

function newShard<I, O>(): Shard<I, O> {
  return { busyUntil: 0, current: undefined, waiting: [] };
}

function newWaiter<I, O>(input: I): Waiter<I, O> {
  let resolve!: (value: O) => void;
  let reject!: (error: unknown) => void;
  const result = new Promise<O>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A waiter whose caller gave up (its guard timed out) may still be rejected later: never an
  // unhandled rejection.
  result.catch(() => undefined);
  return { input, since: Date.now(), taken: false, call: undefined, wake: null, resolve, reject, result };
}
