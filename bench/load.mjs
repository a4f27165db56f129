// The load generator: one worker thread (load-worker.mjs) that takes jobs one at a time, and
// helpers to merge several runs of the same target into one result.
import { Worker } from 'node:worker_threads';
import { summarize } from './stats.mjs';

/**
 * @typedef {{ url: string, headers?: Record<string, string>, connections: number, durationS: number, collect?: boolean, expectStatus?: number, signed?: { keyId: string, secret: string } }} LoadOptions
 * @typedef {{ responses: number, seconds: number, latencies: Float64Array, statuses: Record<string, number>, unexpected: number, errors: number, timeouts: number, timing: { responses: number, keySources: Record<string, number>, entries: Record<string, { count: number, totalMs: number }> } }} RawRun
 */

export class LoadGenerator {
  /** @type {Worker} */ #worker;
  /** @type {{ resolve: (r: RawRun) => void, reject: (e: Error) => void } | null} */ #pending = null;

  constructor() {
    this.#worker = new Worker(new URL('./load-worker.mjs', import.meta.url));
    this.#worker.on('message', (msg) => {
      const p = this.#pending;
      this.#pending = null;
      if (!p) return;
      if (msg.ok) p.resolve(msg);
      else p.reject(new Error(`load generator failed: ${msg.error}`));
    });
    const fail = (/** @type {Error} */ err) => {
      const p = this.#pending;
      this.#pending = null;
      p?.reject(err);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`load generator exited with code ${code}`)));
  }

  /**
   * @param {LoadOptions} opts
   * @returns {Promise<RawRun>}
   */
  run(opts) {
    if (this.#pending) return Promise.reject(new Error('load generator busy'));
    const job = { headers: {}, expectStatus: 200, collect: true, ...opts };
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(job);
    });
  }

  async close() {
    await this.#worker.terminate();
  }
}

/**
 * Merges runs of one target (interleaved slices) into one result.
 * @param {RawRun[]} runs
 */
export function mergeRuns(runs) {
  let responses = 0;
  let seconds = 0;
  let unexpected = 0;
  let errors = 0;
  let timeouts = 0;
  /** @type {Record<string, number>} */
  const statuses = {};
  const timing = { responses: 0, keySources: /** @type {Record<string, number>} */ ({}), entries: /** @type {Record<string, { count: number, totalMs: number }>} */ ({}) };
  const all = new Float64Array(runs.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of runs) {
    responses += r.responses;
    seconds += r.seconds;
    unexpected += r.unexpected;
    errors += r.errors;
    timeouts += r.timeouts;
    for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    timing.responses += r.timing.responses;
    for (const [k, v] of Object.entries(r.timing.keySources)) timing.keySources[k] = (timing.keySources[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.timing.entries)) {
      const slot = (timing.entries[k] ??= { count: 0, totalMs: 0 });
      slot.count += v.count;
      slot.totalMs += v.totalMs;
    }
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  return {
    responses,
    seconds,
    rps: seconds > 0 ? responses / seconds : Number.NaN,
    /** Per-slice throughput, to show how steady the target was. */
    sliceRps: runs.map((r) => r.responses / r.seconds),
    latency: summarize(all),
    statuses,
    unexpected,
    errors,
    timeouts,
    timing,
  };
}
