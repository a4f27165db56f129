// D1 access for the owners table (migrations/0030_owners.sql). SQL for owners lives here.

import type { OwnerPolicy, OwnerRecord } from './record';

interface OwnerRow {
  owner: string;
  policy: string;
  created_at: number;
  updated_at: number;
}

function recordOf(row: OwnerRow): OwnerRecord {
  return { owner: row.owner, policy: JSON.parse(row.policy) as OwnerPolicy, created_at: row.created_at, updated_at: row.updated_at };
}

export class OwnerRepository {
  constructor(private readonly db: D1Database) {}

  async get(owner: string): Promise<OwnerRecord | null> {
    const row = await this.db.prepare('SELECT * FROM owners WHERE owner = ?').bind(owner).first<OwnerRow>();
    return row ? recordOf(row) : null;
  }

  /** Creates or replaces an owner's policy, with its audit entry in the same batch; returns the stored record. */
  async put(owner: string, policy: OwnerPolicy, now: number, audit: D1PreparedStatement): Promise<OwnerRecord> {
    const [res] = await this.db.batch<OwnerRow>([
      this.db
        .prepare(
          `INSERT INTO owners (owner, policy, created_at, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (owner) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at
           RETURNING *`,
        )
        .bind(owner, JSON.stringify(policy), now, now),
      audit,
    ]);
    return recordOf(res!.results[0] as OwnerRow);
  }

  /** Deletes an owner, with its audit entry (written only when a row went); false when none existed. */
  async delete(owner: string, audit: (when: { sql: string; args: unknown[] }) => D1PreparedStatement): Promise<boolean> {
    const existed = await this.db.prepare('SELECT 1 AS one FROM owners WHERE owner = ?').bind(owner).first();
    if (!existed) return false;
    await this.db.batch([audit({ sql: 'EXISTS (SELECT 1 FROM owners WHERE owner = ?)', args: [owner] }), this.db.prepare('DELETE FROM owners WHERE owner = ?').bind(owner)]);
    return true;
  }

  /** Owners in name order after `cursor` (exclusive). */
  async list(cursor: string | undefined, limit: number): Promise<OwnerRecord[]> {
    const res = cursor === undefined
      ? await this.db.prepare('SELECT * FROM owners ORDER BY owner LIMIT ?').bind(limit).all<OwnerRow>()
      : await this.db.prepare('SELECT * FROM owners WHERE owner > ? ORDER BY owner LIMIT ?').bind(cursor, limit).all<OwnerRow>();
    return res.results.map(recordOf);
  }
}
