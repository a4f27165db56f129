// Protects the hot path from a slow or failing limit store: a per-call timeout and a
// circuit breaker that, after repeated failures, stops waiting on the store for a while so
// an outage does not add the timeout to every request. Failures are counted and logged.
//
// Only faults of the store itself count towards the breaker: the network, a timeout, an HTTP
// error, the store refusing work. An error the store raises about the data of one request or
// key (a value that is not an integer, a wrong type, a constraint) is that request's fault:
// counting it would let one key holder open the breaker, and with it switch off limits and
// the revocation check for every key in the isolate. Such a call answers `rejected`, and
// callers refuse that request rather than apply the route's failure policy.

import { callOf, giveUp } from './shared-call';

export type GuardFailure = 'timeout' | 'error' | 'circuit_open' | 'rejected';
export type Guarded<T> = { ok: true; value: T; ms: number } | { ok: false; reason: GuardFailure; ms: number };

/** Thrown by keygate code about a call's own input before it reaches the store. */
export class StoreInputError extends Error {
  override readonly name = 'StoreInputError';
}

// Redis and SQLite texts that describe the data of the call, not the health of the store.
const DATA_ERROR = /WRONGTYPE|value is not an integer|would overflow|value is not a valid float|NOT NULL constraint failed|datatype mismatch|SQLITE_MISMATCH|SQLITE_CONSTRAINT/;

/** True when the error was caused by the call's data rather than by the store being unwell. */
export function isRequestFault(error: unknown): boolean {
  if (error instanceof StoreInputError) return true;
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  return DATA_ERROR.test(message);
}

export interface BreakerOptions {
  failureThreshold: number;
  coolDownMs: number;
}

export class StoreGuard {
  #consecutiveFailures = 0;
  #openUntil = 0;
  /** Store calls behind failures this guard has counted (see shared-call.ts). */
  readonly #countedCalls = new WeakSet<object>();
  /** Store faults seen by this isolate, reported in each failure log line. */
  readonly stats = { failures: 0 };

  constructor(
    readonly storeKind: string,
    private readonly opts: BreakerOptions = { failureThreshold: 5, coolDownMs: 10_000 },
  ) {}

  get open(): boolean {
    return Date.now() < this.#openUntil;
  }

  async run<T>(op: string, timeoutMs: number, fn: () => Promise<T>): Promise<Guarded<T>> {
    const started = performance.now();
    if (this.open) {
      return { ok: false, reason: 'circuit_open', ms: 0 };
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    let pending: Promise<T> | undefined;
    try {
      pending = fn();
      const result = await Promise.race([pending, timeout]);
      if (result === 'timeout') return this.failed(op, 'timeout', started, undefined, giveUp(pending));
      this.#consecutiveFailures = 0;
      return { ok: true, value: result as T, ms: performance.now() - started };
    } catch (error) {
      if (isRequestFault(error)) return this.rejected(op, started, error);
      return this.failed(op, 'error', started, error, pending && callOf(pending));
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** A request's own fault: logged, never counted towards the breaker, streak unchanged. */
  private rejected(op: string, started: number, error: unknown): Guarded<never> {
    console.warn(
      JSON.stringify({
        level: 'warn',
        event: 'limit_store_rejected',
        store: this.storeKind,
        op,
        error: error instanceof Error ? error.message.slice(0, 200) : undefined,
      }),
    );
    return { ok: false, reason: 'rejected', ms: performance.now() - started };
  }

  private failed(op: string, reason: 'timeout' | 'error', started: number, error?: unknown, call?: object): Guarded<never> {
    // A store call shared by several admissions counts once (shared-call.ts).
    let counted = true;
    if (call !== undefined) {
      if (this.#countedCalls.has(call)) counted = false;
      else this.#countedCalls.add(call);
    }
    if (counted) {
      this.stats.failures++;
      this.#consecutiveFailures++;
    }
    let opened = false;
    if (counted && this.#consecutiveFailures >= this.opts.failureThreshold) {
      this.#openUntil = Date.now() + this.opts.coolDownMs;
      this.#consecutiveFailures = 0;
      opened = true;
    }
    console.warn(
      JSON.stringify({
        level: 'warn',
        event: 'limit_store_failure',
        store: this.storeKind,
        op,
        reason,
        error: error instanceof Error ? error.message.slice(0, 200) : undefined,
        failures_total: this.stats.failures,
        circuit_opened: opened,
      }),
    );
    return { ok: false, reason, ms: performance.now() - started };
  }
}
