// D1 access for the request log and its rollups. All SQL of src/events lives here.

import { ulid } from '../lib/ids';
import type { LoggedEvent, RequestEvent, UseEvent } from './messages';
import { toMinute } from './messages';
import { bucketOf, bucketSql, BUCKET_COUNT, DAY_MS, HOUR_MS, hourOf, LAT_COLUMNS, quantileMs } from './rollups';

const LOG_COLUMNS = [
  'id', 'at', 'request_id', 'key_id', 'owner', 'route', 'method', 'path', 'status', 'outcome', 'ip', 'user_agent', 'referer',
  'key_ms', 'store_ms', 'upstream_ms', 'total_ms', 'model', 'input_tokens', 'output_tokens', 'cost_micros', 'store',
] as const;

/** The rollup columns an event adds to its key's hour, in ROLLUP_COLUMNS order. */
const ROLLUP_COLUMNS = ['requests', 'errors', 'rate_limited', 'input_tokens', 'output_tokens', 'cost_micros', ...LAT_COLUMNS] as const;

/** Per key and hour: the rollup columns an event list adds, in ROLLUP_COLUMNS order. */
function rollupsOf(events: readonly RequestEvent[]): (string | number)[][] {
  const groups = new Map<string, (string | number)[]>();
  for (const e of events) {
    const hour = hourOf(e.at);
    const id = `${e.key_id} ${hour}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = [e.key_id, hour, ...new Array<number>(ROLLUP_COLUMNS.length).fill(0)]));
    const s = g as number[];
    s[2]! += 1;
    if (e.status >= 400) s[3]! += 1;
    if (e.outcome === 'rate_limited') s[4]! += 1;
    s[5]! += e.input_tokens ?? 0;
    s[6]! += e.output_tokens ?? 0;
    s[7]! += e.cost_micros ?? 0;
    s[8 + bucketOf(e.total_ms ?? 0)]! += 1;
  }
  return [...groups.values()];
}

const NOT_LOGGED_YET = 'NOT EXISTS (SELECT 1 FROM request_log WHERE id IN (SELECT value FROM json_each(?)))';

/** Adds the summed rows (one JSON parameter: [key_id, hour, ...ROLLUP_COLUMNS]) while none of the ids is logged. */
const UPSERT_ROLLUPS = `INSERT INTO request_rollups (key_id, hour, ${ROLLUP_COLUMNS.join(', ')})
  SELECT ${['key_id', 'hour', ...ROLLUP_COLUMNS].map((c, i) => `value ->> ${i}`).join(', ')} FROM json_each(?) WHERE ${NOT_LOGGED_YET}
  ON CONFLICT (key_id, hour) DO UPDATE SET ${ROLLUP_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;

const INCOMING = `SELECT ${LOG_COLUMNS.map((c, i) => `value ->> ${i} AS ${c}`).join(', ')} FROM json_each(?)`;
const INSERT_LOG = `INSERT INTO request_log (${LOG_COLUMNS.join(', ')}) ${INCOMING} WHERE ${NOT_LOGGED_YET}`;

/** The exact path: rollups of exactly the rows the log does not hold yet, then those rows. */
const UPSERT_ROLLUPS_EXACT = `WITH e AS MATERIALIZED (${INCOMING})
  INSERT INTO request_rollups (key_id, hour, ${ROLLUP_COLUMNS.join(', ')})
  SELECT key_id, at - (at % ${HOUR_MS}), COUNT(*), SUM(status >= 400), SUM(outcome = 'rate_limited'),
         COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_micros), 0), ${LAT_COLUMNS.map((_, i) => bucketSql(i)).join(', ')}
  FROM e WHERE NOT EXISTS (SELECT 1 FROM request_log l WHERE l.id = e.id)
  GROUP BY key_id, at - (at % ${HOUR_MS}) ORDER BY 1, 2
  ON CONFLICT (key_id, hour) DO UPDATE SET ${ROLLUP_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;
const INSERT_LOG_EXACT = `INSERT OR IGNORE INTO request_log (${LOG_COLUMNS.join(', ')}) ${INCOMING}`;

const UPDATE_LAST_USED = `UPDATE keys SET last_used_at = u.at
  FROM (SELECT value ->> 0 AS id, value ->> 1 AS at FROM json_each(?)) AS u
  WHERE keys.id = u.id AND (keys.last_used_at IS NULL OR keys.last_used_at < u.at)`;

// D1 takes strings up to 2 MB: the rows of a large batch go in chunks of at most this many
// events and characters of JSON, each chunk its own D1 batch of two statements.
const CHUNK_EVENTS = 1000;
const CHUNK_BYTES = 1_000_000;
const LAST_USED_CHUNK = 10_000;

/** One chunk of a consumer batch: its events, their log rows and their ids, as JSON. */
interface Chunk {
  events: RequestEvent[];
  rows: string;
  ids: string;
}

/** Splits the events (one per id) into chunks whose JSON stays within D1's limits. */
function chunksOf(events: RequestEvent[]): Chunk[] {
  const chunks: Chunk[] = [];
  let rows: string[] = [];
  let from = 0;
  let bytes = 0;
  const close = (to: number) => {
    const part = events.slice(from, to);
    chunks.push({ events: part, rows: `[${rows.join(',')}]`, ids: JSON.stringify(part.map((e) => e.id)) });
    rows = [];
    from = to;
    bytes = 0;
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as RequestEvent;
    const row = JSON.stringify(LOG_COLUMNS.map((col) => e[col] ?? null));
    // Characters, not bytes: a client's text is at most a few hundred characters, so a
    // chunk's JSON stays far below 2 MB either way.
    if (rows.length > 0 && (rows.length >= CHUNK_EVENTS || bytes + row.length > CHUNK_BYTES)) close(i);
    rows.push(row);
    bytes += row.length + 1;
  }
  if (rows.length > 0) close(events.length);
  return chunks;
}

/** The fast path of a chunk none of whose events is logged yet: rollups summed here, then the rows, both guarded. */
function fastStatements(db: D1Database, chunk: Chunk): D1PreparedStatement[] {
  return [db.prepare(UPSERT_ROLLUPS).bind(JSON.stringify(rollupsOf(chunk.events)), chunk.ids), db.prepare(INSERT_LOG).bind(chunk.rows, chunk.ids)];
}

/** The exact path, for a redelivered chunk: rollups of exactly the events the log does not hold. */
function exactStatements(db: D1Database, chunk: Chunk): D1PreparedStatement[] {
  return [db.prepare(UPSERT_ROLLUPS_EXACT).bind(chunk.rows), db.prepare(INSERT_LOG_EXACT).bind(chunk.rows)];
}

function lastUsedStatements(db: D1Database, events: readonly LoggedEvent[]): D1PreparedStatement[] {
  const lastUsed = new Map<string, number>();
  for (const e of events) {
    const at = toMinute(e.at);
    if ((lastUsed.get(e.key_id) ?? 0) < at) lastUsed.set(e.key_id, at);
  }
  const pairs = [...lastUsed];
  const out: D1PreparedStatement[] = [];
  for (let i = 0; i < pairs.length; i += LAST_USED_CHUNK) out.push(db.prepare(UPDATE_LAST_USED).bind(JSON.stringify(pairs.slice(i, i + LAST_USED_CHUNK))));
  return out;
}

/**
 * Writes a consumer batch: one D1 batch (one transaction) per chunk of events, holding the
 * chunk's hourly rollups and log rows (the last one also last_used_at to the minute), so no
 * D1 request carries more than one chunk's JSON however many events a batch of packed
 * messages holds. A chunk none of whose events is in the log yet (the usual case) adds
 * rollups summed here; a chunk with a logged event (a redelivery) writes nothing on that path
 * and is written again on the exact path, in a second transaction: rollups of exactly the
 * events the log does not hold. Either way a retried batch never counts twice, also when a
 * later chunk failed after earlier ones were written. Rows travel as one JSON parameter per
 * chunk (json_each).
 */
export async function writeBatch(db: D1Database, events: RequestEvent[], uses: UseEvent[]): Promise<void> {
  // One row per id: the queue may hand the same event twice, even within one batch.
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  const chunks = chunksOf(unique);
  const lastUsed = lastUsedStatements(db, events.length === 0 ? uses : uses.length === 0 ? events : [...events, ...uses]);
  for (const [i, chunk] of chunks.entries()) {
    const statements = fastStatements(db, chunk);
    if (i === chunks.length - 1) statements.push(...lastUsed);
    const results = await db.batch(statements);
    // The guarded insert is the second statement: nothing inserted means some id was already logged.
    if ((results[1]?.meta.changes ?? 0) === 0) await db.batch(exactStatements(db, chunk));
  }
  if (chunks.length === 0 && lastUsed.length > 0) await db.batch(lastUsed);
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
