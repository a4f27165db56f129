// D1 access for the request log and its rollups. All SQL of src/events lives here.

import { ulid } from '../lib/ids';
import type { RequestEvent, UseEvent } from './messages';
import { toMinute } from './messages';
import { bucketOf, bucketSql, BUCKET_COUNT, DAY_MS, HOUR_MS, hourOf, LAT_COLUMNS, quantileMs } from './rollups';

const LOG_COLUMNS = [
  'id', 'at', 'request_id', 'key_id', 'owner', 'route', 'method', 'path', 'status', 'outcome', 'ip', 'user_agent', 'referer',
  'key_ms', 'store_ms', 'upstream_ms', 'total_ms', 'model', 'input_tokens', 'output_tokens', 'cost_micros', 'store',
] as const;

/** The rollup columns an event adds to its key's hour, in ROLLUP_COLUMNS order. */
const ROLLUP_COLUMNS = ['requests', 'errors', 'rate_limited', 'input_tokens', 'output_tokens', 'cost_micros', ...LAT_COLUMNS] as const;

function rollupsOf(events: readonly RequestEvent[]): Map<string, { keyId: string; hour: number; sums: number[] }> {
  const groups = new Map<string, { keyId: string; hour: number; sums: number[] }>();
  for (const e of events) {
    const hour = hourOf(e.at);
    const id = `${e.key_id} ${hour}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { keyId: e.key_id, hour, sums: new Array<number>(ROLLUP_COLUMNS.length).fill(0) }));
    const s = g.sums;
    s[0]! += 1;
    if (e.status >= 400) s[1]! += 1;
    if (e.outcome === 'rate_limited') s[2]! += 1;
    s[3]! += e.input_tokens ?? 0;
    s[4]! += e.output_tokens ?? 0;
    s[5]! += e.cost_micros ?? 0;
    s[6 + bucketOf(e.total_ms ?? 0)]! += 1;
  }
  return groups;
}

const UPSERT_ROLLUP = `INSERT INTO request_rollups (key_id, hour, ${ROLLUP_COLUMNS.join(', ')})
  SELECT ?, ?, ${ROLLUP_COLUMNS.map(() => '?').join(', ')} WHERE NOT EXISTS (SELECT 1 FROM request_log WHERE id IN (SELECT value FROM json_each(?)))
  ON CONFLICT (key_id, hour) DO UPDATE SET ${ROLLUP_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;

/**
 * The D1 batch (one transaction) that writes a consumer batch: hourly rollups, the log rows,
 * and last_used_at to the minute. A batch none of whose events is in the log yet (the usual
 * case) adds rollups summed here; `exact: true` is the path for a redelivered batch: rollups
 * of exactly the events the log does not hold. Either way a retried batch never counts twice.
 * Rows travel as one JSON parameter (json_each).
 */
export function writeStatements(db: D1Database, events: RequestEvent[], uses: UseEvent[], exact = false): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  // One row per id: the queue may hand the same message twice, even within one batch.
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  if (unique.length > 0) {
    const rows = JSON.stringify(unique.map((e) => LOG_COLUMNS.map((col) => e[col] ?? null)));
    const incoming = `SELECT ${LOG_COLUMNS.map((c, i) => `value ->> ${i} AS ${c}`).join(', ')} FROM json_each(?)`;
    const ids = JSON.stringify(unique.map((e) => e.id));
    if (!exact) {
      // Guarded: applies only while none of these ids is logged, like the insert below.
      for (const g of rollupsOf(unique).values()) statements.push(db.prepare(UPSERT_ROLLUP).bind(g.keyId, g.hour, ...g.sums, ids));
      statements.push(
        db.prepare(`INSERT INTO request_log (${LOG_COLUMNS.join(', ')}) ${incoming} WHERE NOT EXISTS (SELECT 1 FROM request_log WHERE id IN (SELECT value FROM json_each(?)))`).bind(rows, ids),
      );
    } else {
      const sums = LAT_COLUMNS.map((_, i) => bucketSql(i)).join(', ');
      statements.push(
        db
          .prepare(
            `WITH e AS MATERIALIZED (${incoming})
             INSERT INTO request_rollups (key_id, hour, ${ROLLUP_COLUMNS.join(', ')})
             SELECT key_id, at - (at % ${HOUR_MS}), COUNT(*), SUM(status >= 400), SUM(outcome = 'rate_limited'),
                    COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_micros), 0), ${sums}
             FROM e WHERE NOT EXISTS (SELECT 1 FROM request_log l WHERE l.id = e.id)
             GROUP BY key_id, at - (at % ${HOUR_MS}) ORDER BY 1, 2
             ON CONFLICT (key_id, hour) DO UPDATE SET ${ROLLUP_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
          )
          .bind(rows),
      );
      statements.push(db.prepare(`INSERT OR IGNORE INTO request_log (${LOG_COLUMNS.join(', ')}) ${incoming}`).bind(rows));
    }
  }
  const lastUsed = new Map<string, number>();
  for (const e of [...events, ...uses]) lastUsed.set(e.key_id, Math.max(lastUsed.get(e.key_id) ?? 0, toMinute(e.at)));
  if (lastUsed.size > 0) {
    statements.push(
      db
        .prepare(
          `UPDATE keys SET last_used_at = u.at
           FROM (SELECT value ->> 0 AS id, value ->> 1 AS at FROM json_each(?)) AS u
           WHERE keys.id = u.id AND (keys.last_used_at IS NULL OR keys.last_used_at < u.at)`,
        )
        .bind(JSON.stringify([...lastUsed])),
    );
  }
  return statements;
}

/** Writes a consumer batch: the fast path, or the exact one when some events are logged already. */
export async function writeBatch(db: D1Database, events: RequestEvent[], uses: UseEvent[]): Promise<void> {
  const statements = writeStatements(db, events, uses);
  const results = await db.batch(statements);
  if (events.length === 0) return;
  // The guarded insert is the statement before last_used_at: nothing inserted means some id was already logged.
  const insert = results[results.length - 2];
  if ((insert?.meta.changes ?? 0) === 0) await db.batch(writeStatements(db, events, [], true));
}

export interface LogFilter {
  keyId?: string;
  status?: number;
  outcome?: string;
  route?: string;
  owner?: string;
  since?: number;
  until?: number;
  cursor?: string;
  limit: number;
}

/** A request_log row: the request event's own fields (the alert context stays on the queue). */
export type LogRow = Omit<RequestEvent, 'kind' | 'limit' | 'budget'>;

/** Newest first; the cursor is the last id of the previous page. */
export async function listLogs(db: D1Database, f: LogFilter): Promise<LogRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, value: unknown) => (where.push(sql), args.push(value));
  if (f.keyId !== undefined) add('key_id = ?', f.keyId);
  if (f.status !== undefined) add('status = ?', f.status);
  if (f.outcome !== undefined) add('outcome = ?', f.outcome);
  if (f.route !== undefined) add('route = ?', f.route);
  if (f.owner !== undefined) add('owner = ?', f.owner);
  if (f.since !== undefined) add('at >= ?', f.since);
  if (f.until !== undefined) add('at < ?', f.until);
  if (f.cursor !== undefined) add('id < ?', f.cursor);
  const sql = `SELECT ${LOG_COLUMNS.join(', ')} FROM request_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  const res = await db.prepare(sql).bind(...args, f.limit).all<LogRow>();
  return res.results;
}

export interface SeriesPoint {
  t: string;
  requests: number;
  errors: number;
  rate_limited: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

interface RollupSums {
  bucket: number;
  requests: number;
  errors: number;
  rate_limited: number;
  input_tokens: number;
  output_tokens: number;
  cost_micros: number;
  [lat: `lat_${number}`]: number;
}

const SUM_COLUMNS = `SUM(requests) AS requests, SUM(errors) AS errors, SUM(rate_limited) AS rate_limited, SUM(input_tokens) AS input_tokens,
  SUM(output_tokens) AS output_tokens, SUM(cost_micros) AS cost_micros, ${LAT_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}`;

/** The series over [since, until) in hour or day steps, from the rollups (keyId unset: all keys). since and until are whole steps. */
export async function series(db: D1Database, q: { keyId?: string; since: number; until: number; granularity: 'hour' | 'day' }): Promise<SeriesPoint[]> {
  const step = q.granularity === 'hour' ? HOUR_MS : DAY_MS;
  const args: unknown[] = [q.since, q.until];
  let sql = `SELECT hour - (hour % ${step}) AS bucket, ${SUM_COLUMNS} FROM request_rollups WHERE hour >= ? AND hour < ?`;
  if (q.keyId !== undefined) (sql += ' AND key_id = ?'), args.push(q.keyId);
  sql += ' GROUP BY bucket ORDER BY bucket';
  const res = await db.prepare(sql).bind(...args).all<RollupSums>();
  // Every step of the range, zeros where nothing was logged: a series charts as it reads.
  const found = new Map(res.results.map((r) => [r.bucket, r]));
  const points: SeriesPoint[] = [];
  for (let t = q.since - (q.since % step); t < q.until; t += step) points.push(toPoint(found.get(t) ?? emptySums(t)));
  return points;
}

function emptySums(bucket: number): RollupSums {
  const sums: RollupSums = { bucket, requests: 0, errors: 0, rate_limited: 0, input_tokens: 0, output_tokens: 0, cost_micros: 0 };
  for (const c of LAT_COLUMNS) sums[c as `lat_${number}`] = 0;
  return sums;
}

function toPoint(r: RollupSums): SeriesPoint {
  const buckets = Array.from({ length: BUCKET_COUNT }, (_, i) => r[`lat_${i}`] ?? 0);
  return {
    t: new Date(r.bucket).toISOString(),
    requests: r.requests,
    errors: r.errors,
    rate_limited: r.rate_limited,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cost_usd: r.cost_micros / 1e6,
    p50_ms: quantileMs(buckets, 0.5),
    p99_ms: quantileMs(buckets, 0.99),
  };
}

export interface TopKey {
  key_id: string;
  requests: number;
  errors: number;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
}

export async function topKeys(db: D1Database, q: { since: number; until: number; by: 'requests' | 'cost'; limit: number }): Promise<TopKey[]> {
  const order = q.by === 'cost' ? 'cost_micros' : 'requests';
  const res = await db
    .prepare(
      `SELECT key_id, SUM(requests) AS requests, SUM(errors) AS errors, SUM(cost_micros) AS cost_micros, SUM(input_tokens) AS input_tokens,
         SUM(output_tokens) AS output_tokens FROM request_rollups WHERE hour >= ? AND hour < ? GROUP BY key_id ORDER BY ${order} DESC, key_id LIMIT ?`,
    )
    .bind(q.since, q.until, q.limit)
    .all<Omit<TopKey, 'cost_usd'> & { cost_micros: number }>();
  return res.results.map(({ cost_micros, ...r }) => ({ ...r, cost_usd: cost_micros / 1e6 }));
}

/** Retention, bounded per cron run: the next run removes the rest. */
export async function pruneLogs(db: D1Database, now: number, logDays: number, rollupDays: number): Promise<{ logs: number; rollups: number }> {
  const logCutoff = `log_${ulid(now - logDays * DAY_MS).slice(0, 10)}`;
  const rollupCutoff = now - rollupDays * DAY_MS;
  const [logs, rollups] = await db.batch([
    db.prepare('DELETE FROM request_log WHERE id IN (SELECT id FROM request_log WHERE id < ? ORDER BY id LIMIT 5000)').bind(logCutoff),
    db.prepare('DELETE FROM request_rollups WHERE rowid IN (SELECT rowid FROM request_rollups WHERE hour < ? LIMIT 5000)').bind(rollupCutoff),
  ]);
  return { logs: logs?.meta.changes ?? 0, rollups: rollups?.meta.changes ?? 0 };
}
