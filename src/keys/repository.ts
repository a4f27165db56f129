// D1 access for key records: the system of record. SQL lives here and nowhere else.

import type { KeyPolicy, KeyRecord, KeyType } from './record';
import { statusSql, type KeyStatus } from './status';

export interface KeyRow {
  id: string;
  digest: string;
  prefix: string;
  display_start: string;
  display_end: string;
  name: string;
  description: string;
  owner: string | null;
  type: KeyType;
  scopes: string;
  tags: string;
  metadata: string;
  allowed_ips: string;
  allowed_referers: string;
  limits: string;
  expires_at: number | null;
  is_active: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  last_used_at: number | null;
  rotated_to: string | null;
  counter_id: string | null;
  created_at: number;
  updated_at: number;
}

/** An SQL predicate with its arguments, for statements that run only if an earlier one in the same batch applied. */
export interface SqlGuard {
  sql: string;
  args: unknown[];
}

/** SQL for "k2 is usable at time ?" (one bound parameter: now). */
const USABLE_K2 = statusSql('active', 'k2').sql;

export function fromRow(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    digest: row.digest,
    prefix: row.prefix,
    start: row.display_start,
    end: row.display_end,
    name: row.name,
    description: row.description,
    owner: row.owner,
    type: row.type,
    scopes: JSON.parse(row.scopes) as string[],
    tags: JSON.parse(row.tags) as string[],
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    allowed_ips: JSON.parse(row.allowed_ips) as string[],
    allowed_referers: JSON.parse(row.allowed_referers) as string[],
    policy: JSON.parse(row.limits) as KeyPolicy,
    expires_at: row.expires_at,
    is_active: row.is_active === 1,
    revoked_at: row.revoked_at,
    revoked_reason: row.revoked_reason,
    last_used_at: row.last_used_at,
    rotated_to: row.rotated_to,
    counter_id: row.counter_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function toRow(r: KeyRecord): KeyRow {
  return {
    id: r.id,
    digest: r.digest,
    prefix: r.prefix,
    display_start: r.start,
    display_end: r.end,
    name: r.name,
    description: r.description,
    owner: r.owner,
    type: r.type,
    scopes: JSON.stringify(r.scopes),
    tags: JSON.stringify(r.tags),
    metadata: JSON.stringify(r.metadata),
    allowed_ips: JSON.stringify(r.allowed_ips),
    allowed_referers: JSON.stringify(r.allowed_referers),
    limits: JSON.stringify(r.policy),
    expires_at: r.expires_at,
    is_active: r.is_active ? 1 : 0,
    revoked_at: r.revoked_at,
    revoked_reason: r.revoked_reason,
    last_used_at: r.last_used_at,
    rotated_to: r.rotated_to,
    counter_id: r.counter_id ?? null,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

const COLUMNS: readonly (keyof KeyRow)[] = [
  'id', 'digest', 'prefix', 'display_start', 'display_end', 'name', 'description', 'owner', 'type',
  'scopes', 'tags', 'metadata', 'allowed_ips', 'allowed_referers', 'limits', 'expires_at', 'is_active',
  'revoked_at', 'revoked_reason', 'last_used_at', 'rotated_to', 'counter_id', 'created_at', 'updated_at',
];

export interface ListFilter {
  owner?: string;
  tag?: string;
  type?: KeyType;
  status?: KeyStatus;
  q?: string;
  /** Exclusive: return keys with ids strictly below (older than) this one. */
  cursor?: string;
  limit: number;
}

export class KeyRepository {
  constructor(private readonly db: D1Database) {}

  async byDigest(digest: string): Promise<KeyRecord | null> {
    const row = await this.db.prepare('SELECT * FROM keys WHERE digest = ?').bind(digest).first<KeyRow>();
    return row ? fromRow(row) : null;
  }

  async byId(id: string): Promise<KeyRecord | null> {
    const row = await this.db.prepare('SELECT * FROM keys WHERE id = ?').bind(id).first<KeyRow>();
    return row ? fromRow(row) : null;
  }

  insertStatement(record: KeyRecord): D1PreparedStatement {
    const row = toRow(record);
    const sql = `INSERT INTO keys (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;
    return this.db.prepare(sql).bind(...COLUMNS.map((c) => row[c]));
  }

  /** Inserts only while the owner has fewer than `cap` usable keys; one statement, so it is race-free. */
  insertIfUnderCap(record: KeyRecord, cap: number, now: number): D1PreparedStatement {
    const row = toRow(record);
    const sql =
      `INSERT INTO keys (${COLUMNS.join(', ')}) SELECT ${COLUMNS.map(() => '?').join(', ')} ` +
      `WHERE (SELECT COUNT(*) FROM keys k2 WHERE k2.owner = ? AND ${USABLE_K2}) < ?`;
    return this.db.prepare(sql).bind(...COLUMNS.map((c) => row[c]), record.owner, now, cap);
  }

  /** Inserts only when the guarded update stamped `token` on key `id` earlier in the same batch. */
  insertIfStamped(record: KeyRecord, guard: { id: string; token: string }): D1PreparedStatement {
    const row = toRow(record);
    const sql =
      `INSERT INTO keys (${COLUMNS.join(', ')}) SELECT ${COLUMNS.map(() => '?').join(', ')} ` +
      'WHERE EXISTS (SELECT 1 FROM keys WHERE id = ? AND write_token = ?)';
    return this.db.prepare(sql).bind(...COLUMNS.map((c) => row[c]), guard.id, guard.token);
  }

  /** Deactivates every usable key of an owner, stamping `token`; returns the rows it changed. */
  deactivateOwnerStatement(owner: string, now: number, token: string): D1PreparedStatement {
    return this.db
      .prepare(`UPDATE keys SET is_active = 0, updated_at = MAX(updated_at + 1, ?), write_token = ? WHERE owner = ? AND revoked_at IS NULL AND is_active = 1 RETURNING *`)
      .bind(now, token, owner);
  }

  /** True in a batch once key `id` exists (e.g. its INSERT earlier in the batch applied). */
  existsGuard(id: string): SqlGuard {
    return { sql: 'EXISTS (SELECT 1 FROM keys WHERE id = ?)', args: [id] };
  }

  /** True in a batch once the guarded update that stamped `token` on key `id` applied. */
  stampedGuard(id: string, token: string): SqlGuard {
    return { sql: 'EXISTS (SELECT 1 FROM keys WHERE id = ? AND write_token = ?)', args: [id, token] };
  }

  /**
   * Writes every mutable column of the record, guarded by updated_at (optimistic concurrency)
   * and, when given, by the owner's usable-key cap. Stamps `token` so later statements in the
   * same batch can check that this very update applied.
   */
  replaceStatement(record: KeyRecord, expectedUpdatedAt: number, token: string, cap?: { cap: number; now: number }): D1PreparedStatement {
    const row = toRow(record);
    const mutable = COLUMNS.filter((c) => c !== 'id' && c !== 'digest' && c !== 'created_at');
    let sql = `UPDATE keys SET ${mutable.map((c) => `${c} = ?`).join(', ')}, expiry_handled = 0, write_token = ? WHERE id = ? AND updated_at = ?`;
    const args: unknown[] = [...mutable.map((c) => row[c]), token, record.id, expectedUpdatedAt];
    if (cap && record.owner !== null) {
      sql += ` AND (SELECT COUNT(*) FROM keys k2 WHERE k2.owner = ? AND k2.id != ? AND ${USABLE_K2}) < ?`;
      args.push(record.owner, record.id, cap.now, cap.cap);
    }
    return this.db.prepare(sql).bind(...args);
  }

  deleteStatement(id: string): D1PreparedStatement {
    return this.db.prepare('DELETE FROM keys WHERE id = ?').bind(id);
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.prepare('UPDATE keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)').bind(at, id, at).run();
  }

  async list(filter: ListFilter, now = Date.now()): Promise<KeyRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.owner !== undefined) (where.push('owner = ?'), args.push(filter.owner));
    if (filter.type !== undefined) (where.push('type = ?'), args.push(filter.type));
    if (filter.tag !== undefined) (where.push('EXISTS (SELECT 1 FROM json_each(keys.tags) WHERE value = ?)'), args.push(filter.tag));
    // instr() rather than LIKE: the search is a plain substring (no wildcards to escape) and
    // D1 refuses LIKE patterns past 50 bytes ("pattern too complex"). lower() folds ASCII
    // case, as LIKE did.
    if (filter.q !== undefined) (where.push('instr(lower(name), lower(?)) > 0'), args.push(filter.q));
    if (filter.cursor !== undefined) (where.push('id < ?'), args.push(filter.cursor));
    if (filter.status !== undefined) {
      const status = statusSql(filter.status);
      where.push(status.sql);
      if (status.binds === 1) args.push(now);
    }
    const sql = `SELECT * FROM keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const res = await this.db.prepare(sql).bind(...args, filter.limit).all<KeyRow>();
    return res.results.map(fromRow);
  }

  async byDisplay(start: string | undefined, end: string | undefined, limit: number): Promise<KeyRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (start !== undefined) (where.push('display_start = ?'), args.push(start));
    if (end !== undefined) (where.push('display_end = ?'), args.push(end));
    const res = await this.db
      .prepare(`SELECT * FROM keys WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`)
      .bind(...args, limit)
      .all<KeyRow>();
    return res.results.map(fromRow);
  }

  /** Keys whose expiry has passed and not yet been handled by the scheduled cleanup. */
  async pendingExpired(now: number, limit: number): Promise<KeyRecord[]> {
    const res = await this.db
      .prepare('SELECT * FROM keys WHERE expiry_handled = 0 AND revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?')
      .bind(now, limit)
      .all<KeyRow>();
    return res.results.map(fromRow);
  }

  markExpiryHandled(id: string, expiresAt: number): D1PreparedStatement {
    return this.db.prepare('UPDATE keys SET expiry_handled = 1 WHERE id = ? AND expires_at = ?').bind(id, expiresAt);
  }
}
