// Interleaved measurement of several targets with the same load generator, plus the CPU
// each process spent per response. Shared by run.mjs (npm run bench) and ab.mjs.
import { cpuMeter } from './cpu.mjs';
import { mergeRuns } from './load.mjs';

/** Progress goes to stderr so stdout holds only the table and the JSON line. */
const progress = (/** @type {string} */ msg) => process.stderr.write(`[bench] ${msg}\n`);

/**
 * @typedef {{ key: string, label: string, url: string, headers?: Record<string, string>, expectStatus?: number, signed?: { keyId: string, secret: string }, beforeSlice?: () => unknown, afterSlice?: (r: import('./load.mjs').RawRun) => unknown }} Target
 */

/**
 * Measures targets the same way, interleaved: each is warmed up, then the measured time is cut
 * into ~1 s slices run round-robin (the starting target rotates every round), so a burst of
 * outside load or a slow drift hits every target alike instead of whichever ran at that moment.
 * @param {LoadGenerator} gen
 * @param {Target[]} targets
 * @param {{ connections: number, durationS: number, warmupS: number, sliceS?: number, shuffle?: boolean }} opts
 */
export async function measureAll(gen, targets, { connections, durationS, warmupS, sliceS = 1, shuffle = false }) {
  const job = (/** @type {Target} */ t, /** @type {number} */ seconds, /** @type {boolean} */ collect) =>
    gen.run({ url: t.url, headers: t.headers ?? {}, connections, durationS: seconds, collect, expectStatus: t.expectStatus ?? 200, ...(t.signed ? { signed: t.signed } : {}) });
  /** @type {Map<string, number>} responses during the warm-up (the events bench checks every request was logged) */
  const warmups = new Map();
  if (warmupS > 0) {
    progress(`warm-up: ${targets.length} targets x ${warmupS}s, ${connections} connection(s)`);
    for (const t of targets) warmups.set(t.key, (await job(t, warmupS, false)).responses);
  }
  const slices = Math.max(1, Math.round(durationS / sliceS));
  const seconds = durationS / slices;
  progress(`measuring: ${slices} round(s) x ${targets.length} targets x ${seconds.toFixed(2)}s, ${connections} connection(s)`);
  /** @type {Map<string, import('./load.mjs').RawRun[]>} */
  const runs = new Map(targets.map((t) => [t.key, []]));
  /** @type {Map<string, { busy: number, own: number, other: number, cpuSeconds: Record<string, number> }[]>} */
  const cpu = new Map(targets.map((t) => [t.key, []]));
  for (let s = 0; s < slices; s++) {
    // Rotation keeps the cycle, so each target always follows the same one and pays for what
    // that one leaves running (a queue consumer's last batch, garbage collection): `shuffle`
    // draws a fresh order every round instead (seeded, so runs compare).
    const order = shuffle ? shuffled(targets, s) : [...targets.slice(s % targets.length), ...targets.slice(0, s % targets.length)];
    for (const t of order) {
      await t.beforeSlice?.();
      const meter = cpuMeter();
      const r = await job(t, seconds, true);
      const c = meter.stop();
      await t.afterSlice?.(r);
      runs.get(t.key)?.push(r);
      if (c) cpu.get(t.key)?.push(c);
    }
  }
  /** @type {Record<string, ReturnType<typeof mergeRuns> & { warmupResponses: number, label: string, cpu: { busy: number, own: number, other: number, usPerRequest: Record<string, number> } | null }>} */
  const out = {};
  for (const t of targets) {
    const merged = mergeRuns(runs.get(t.key) ?? []);
    if (merged.unexpected > 0 || merged.errors > 0) {
      progress(`${t.label}: WARNING ${merged.unexpected} responses not ${t.expectStatus ?? 200} (${JSON.stringify(merged.statuses)}), ${merged.errors} errors, ${merged.timeouts} timeouts`);
    }
    const cs = cpu.get(t.key) ?? [];
    const avg = (/** @type {'busy' | 'own' | 'other'} */ k) => cs.reduce((a, c) => a + c[k], 0) / cs.length;
    // CPU time this bench's processes spent per response, by process name (workerd, node, redis-server).
    /** @type {Record<string, number>} */
    const usPerRequest = {};
    for (const c of cs) for (const [name, sec] of Object.entries(c.cpuSeconds)) usPerRequest[name] = (usPerRequest[name] ?? 0) + sec;
    for (const name of Object.keys(usPerRequest)) usPerRequest[name] = (usPerRequest[name] / Math.max(1, merged.responses)) * 1e6;
    out[t.key] = { ...merged, warmupResponses: warmups.get(t.key) ?? 0, label: t.label, cpu: cs.length ? { busy: avg('busy'), own: avg('own'), other: avg('other'), usPerRequest } : null };
  }
  return out;
}

/**
 * A permutation of `items` for round `round` (Fisher-Yates with a small seeded generator).
 * @template T
 * @param {T[]} items
 * @param {number} round
 */
function shuffled(items, round) {
  const out = [...items];
  let x = (round + 1) * 2654435761;
  const next = () => ((x = (Math.imul(x ^ (x >>> 15), 2246822507) + 1) >>> 0), x / 2 ** 32);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [/** @type {T} */ (out[j]), /** @type {T} */ (out[i])];
  }
  return out;
}
