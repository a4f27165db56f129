// D1 access for the idempotency table: sealed first results of idempotent admin operations
// (rotation), replayed for a retry with the same Idempotency-Key. SQL lives here only.

import type { SqlGuard } from './repository';

export class IdempotencyRepository {
  constructor(private readonly db: D1Database) {}

  async sealed(id: string): Promise<string | null> {
    const row = await this.db.prepare('SELECT response FROM idempotency WHERE key = ?').bind(id).first<{ response: string }>();
    return row?.response ?? null;
  }

  /** A primary-key clash aborts the whole batch: a concurrent retry already ran the operation. */
  insertStatement(id: string, sealed: string, at: number, when: SqlGuard): D1PreparedStatement {
    return this.db
      .prepare(`INSERT INTO idempotency (key, response, created_at) SELECT ?, ?, ? WHERE ${when.sql}`)
      .bind(id, sealed, at, ...when.args);
  }

  async removeOlderThan(cutoff: number): Promise<number> {
    const res = await this.db.prepare('DELETE FROM idempotency WHERE created_at < ?').bind(cutoff).run();
    return res.meta.changes;
  }
}
