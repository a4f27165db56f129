// Hourly rollups: the latency histogram's buckets and the series the analytics API reads.
// Histograms (not stored percentiles) so hours add up into days and ranges exactly.

/** Upper bounds (ms) of lat_0..lat_10; lat_11 holds everything slower. */
export const ROLLUP_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;
export const BUCKET_COUNT = ROLLUP_BUCKETS_MS.length + 1;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const LAT_COLUMNS = Array.from({ length: BUCKET_COUNT }, (_, i) => `lat_${i}`);

/** SQL for the bucket of total_ms: `lat_i` counts rows whose total_ms falls in bucket i. */
export function bucketSql(i: number): string {
  const upper = ROLLUP_BUCKETS_MS[i];
  const lower = i === 0 ? null : ROLLUP_BUCKETS_MS[i - 1];
  const conds: string[] = [];
  if (lower !== null && lower !== undefined) conds.push(`COALESCE(total_ms, 0) > ${lower}`);
  if (upper !== undefined) conds.push(`COALESCE(total_ms, 0) <= ${upper}`);
  return `SUM(CASE WHEN ${conds.join(' AND ')} THEN 1 ELSE 0 END)`;
}

/** The histogram bucket of a latency: the first whose upper bound holds it, else the last. */
export function bucketOf(ms: number): number {
  for (let i = 0; i < ROLLUP_BUCKETS_MS.length; i++) if (ms <= (ROLLUP_BUCKETS_MS[i] as number)) return i;
  return ROLLUP_BUCKETS_MS.length;
}

/**
 * The q-quantile (0 < q <= 1) of a histogram, as the upper bound of the bucket that holds
 * it (the slowest bucket reports the last finite bound). Null for an empty histogram.
 */
export function quantileMs(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] ?? 0;
    if (seen >= rank) return ROLLUP_BUCKETS_MS[Math.min(i, ROLLUP_BUCKETS_MS.length - 1)] as number;
  }
  return ROLLUP_BUCKETS_MS[ROLLUP_BUCKETS_MS.length - 1] as number;
}

export function hourOf(at: number): number {
  return at - (at % HOUR_MS);
}

export function dayOf(at: number): number {
  return at - (at % DAY_MS);
}
