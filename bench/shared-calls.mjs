// The bench floors' group commit (store-probe-worker.mjs, do-floor-worker.mjs), shaped like
// keygate's (src/limits/group-commit.ts): a request that finds no call in flight sends at
// once; requests that arrive meanwhile wait, and the next call carries them all. A waiter is
// told to lead through its own promise, so the call it then makes belongs to its own request.

/** @typedef {{ resolve: (ok: boolean) => void, lead: () => void }} Waiter */

/**
 * @template E
 * @param {(env: E, n: number) => Promise<boolean>} call one store call for `n` admissions; true when all were answered
 * @returns {(env: E, ctx: ExecutionContext) => Promise<boolean>} an admission through the shared calls
 */
export function sharedCalls(call) {
  /** @type {Waiter[]} */
  let waiting = [];
  let busy = false;

  /** @param {E} env */
  async function flush(env) {
    const batch = waiting;
    waiting = [];
    busy = true;
    let ok = false;
    try {
      ok = await call(env, batch.length);
    } catch {
      ok = false;
    }
    for (const w of batch) w.resolve(ok);
    busy = false;
    waiting[0]?.lead();
  }

  return async (env, ctx) => {
    /** @type {Waiter} */
    const w = { resolve: () => {}, lead: () => {} };
    const told = new Promise((resolve) => {
      w.resolve = (ok) => resolve({ ok });
      w.lead = () => resolve({ lead: true });
    });
    const first = !busy && waiting.length === 0;
    waiting.push(w);
    const what = /** @type {{ ok?: boolean, lead?: boolean }} */ (first ? { lead: true } : await told);
    if (!what.lead) return /** @type {boolean} */ (what.ok);
    const mine = new Promise((resolve) => (w.resolve = resolve));
    ctx.waitUntil(flush(env));
    return mine;
  };
}

/**
 * Waits for an admission, holding I/O of its own meanwhile (workerd cancels a request that
 * only waits on another's promise; keygate's guard timer is that I/O): false after 10 s.
 * @param {Promise<boolean>} admission
 */
export async function withOwnTimer(admission) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(false), 10_000)));
  const ok = await Promise.race([admission, timeout]);
  clearTimeout(timer);
  return /** @type {boolean} */ (ok);
}
