// Protects the hot path from a slow or failing limit store: a per-call timeout and a
// circuit breaker that, after repeated failures, stops waiting on the store for a while so
// an outage does not add the timeout to every request. Failures are counted and logged.

export type Guarded<T> = { ok: true; value: T; ms: number } | { ok: false; reason: 'timeout' | 'error' | 'circuit_open'; ms: number };

export interface BreakerOptions {
  failureThreshold: number;
  coolDownMs: number;
}

export class StoreGuard {
  #consecutiveFailures = 0;
  #openUntil = 0;
  readonly stats = { calls: 0, failures: 0, timeouts: 0, shortCircuited: 0 };

  constructor(
    readonly storeKind: string,
    private readonly opts: BreakerOptions = { failureThreshold: 5, coolDownMs: 10_000 },
  ) {}

  get open(): boolean {
    return Date.now() < this.#openUntil;
  }

  async run<T>(op: string, timeoutMs: number, fn: () => Promise<T>): Promise<Guarded<T>> {
    const started = performance.now();
    this.stats.calls++;
    if (this.open) {
      this.stats.shortCircuited++;
      return { ok: false, reason: 'circuit_open', ms: 0 };
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const result = await Promise.race([fn(), timeout]);
      if (result === 'timeout') return this.failed(op, 'timeout', started);
      this.#consecutiveFailures = 0;
      return { ok: true, value: result as T, ms: performance.now() - started };
    } catch (error) {
      return this.failed(op, 'error', started, error);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  private failed(op: string, reason: 'timeout' | 'error', started: number, error?: unknown): Guarded<never> {
    this.stats.failures++;
    if (reason === 'timeout') this.stats.timeouts++;
    this.#consecutiveFailures++;
    let opened = false;
    if (this.#consecutiveFailures >= this.opts.failureThreshold) {
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
