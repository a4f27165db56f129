// The admin audit trail (D1 table audit_log). Entries are written in the same D1 batch as
// the change they describe, so a change is never recorded without its entry or vice versa.

import { ulid } from '../lib/ids';
import type { SqlGuard } from './repository';

/**
 * `marker_pending`: a change committed but its KV snapshot or revocation marker could not be
 * written yet (the outbox retries it); `marker_written`: a retry wrote them.
 */
export type AuditAction =
  | 'create'
  | 'update'
  | 'activate'
  | 'deactivate'
  | 'revoke'
  | 'rotate'
  | 'delete'
  | 'extend'
  | 'expire'
  | 'signing_secret'
  | 'marker_pending'
  | 'marker_written'
  | 'owner_put'
  | 'owner_delete'
  | 'credits'
  | 'webhook_create'
  | 'webhook_update'
  | 'webhook_delete';

export interface AuditEntry {
  id: string;
  at: number;
  actor: string;
  action: AuditAction;
  key_id: string | null;
  changes: string[];
}

/**
 * `when` makes the entry conditional on an SQL predicate evaluated in the same batch
 * (e.g. "the guarded UPDATE before me applied"), so a refused change leaves no entry.
 */
export function auditStatement(db: D1Database, entry: Omit<AuditEntry, 'id'>, when?: SqlGuard): D1PreparedStatement {
  const values = [`aud_${ulid(entry.at)}`, entry.at, entry.actor, entry.action, entry.key_id, JSON.stringify(entry.changes)];
  if (!when) return db.prepare('INSERT INTO audit_log (id, at, actor, action, key_id, changes) VALUES (?, ?, ?, ?, ?, ?)').bind(...values);
  return db
    .prepare(`INSERT INTO audit_log (id, at, actor, action, key_id, changes) SELECT ?, ?, ?, ?, ?, ? WHERE ${when.sql}`)
    .bind(...values, ...when.args);
}

/** One entry per key a guarded bulk update stamped with `writeToken` (ids: `aud_<ulid>_<key id>`). */
export function auditStampedStatement(db: D1Database, entry: Omit<AuditEntry, 'id' | 'key_id'>, writeToken: string): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO audit_log (id, at, actor, action, key_id, changes) SELECT 'aud_' || ? || '_' || id, ?, ?, ?, id, ? FROM keys WHERE write_token = ?`)
    .bind(ulid(entry.at), entry.at, entry.actor, entry.action, JSON.stringify(entry.changes), writeToken);
}

export async function audit(db: D1Database, entry: Omit<AuditEntry, 'id'>): Promise<void> {
  await auditStatement(db, entry).run();
}

export async function listAudit(db: D1Database, filter: { keyId?: string; cursor?: string; limit: number }): Promise<AuditEntry[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.keyId) (where.push('key_id = ?'), args.push(filter.keyId));
  if (filter.cursor) (where.push('id < ?'), args.push(filter.cursor));
  const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  const res = await db.prepare(sql).bind(...args, filter.limit).all<Omit<AuditEntry, 'changes'> & { changes: string }>();
  return res.results.map((r) => ({ ...r, changes: JSON.parse(r.changes) as string[] }));
}
