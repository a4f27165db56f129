// Small pure helpers: percentiles and Server-Timing parsing.

/**
 * Nearest-rank percentile of an ascending-sorted array.
 * @param {ArrayLike<number>} sorted
 * @param {number} p 0..100
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** @param {ArrayLike<number>} values */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

/**
 * Parses a Server-Timing header value: `key;desc="memory";dur=0.12, upstream;dur=1.50`.
 * @param {string} value
 * @returns {{ name: string, desc: string, dur: number }[]}
 */
export function parseServerTiming(value) {
  const out = [];
  for (const part of value.split(',')) {
    const fields = part.trim().split(';');
    const name = fields[0]?.trim();
    if (!name) continue;
    let desc = '';
    let dur = 0;
    for (let i = 1; i < fields.length; i++) {
      const f = fields[i].trim();
      const eq = f.indexOf('=');
      if (eq === -1) continue;
      const k = f.slice(0, eq);
      let v = f.slice(eq + 1);
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      if (k === 'desc') desc = v;
      else if (k === 'dur') dur = Number(v);
    }
    out.push({ name, desc, dur });
  }
  return out;
}

/** @param {number} x @param {number} [digits] */
export function round(x, digits = 2) {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
