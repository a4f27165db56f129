// D1 access for the outbox table (migrations/0005_outbox.sql): the admin changes whose KV
// snapshot or revocation marker is not yet written. SQL for it lives here and nowhere else.

import { counterIdOf, type KeyRecord } from './record';
import type { SqlGuard } from './repository';

export interface OutboxRow {
  key_id: string;
  digest: string;
  counter_id: string | null;
  /** The key's owner: its owner's limit shard holds a copy of the marker. */
  owner: string | null;
  token: string;
  created_at: number;
  attempts: number;
  last_error: string | null;
}

export interface NewOutboxRow {
  key_id: string;
  digest: string;
  counter_id: string;
  owner: string | null;
  token: string;
  at: number;
}

export function outboxRowOf(record: KeyRecord, token: string, at: number): NewOutboxRow {
  return { key_id: record.id, digest: record.digest, counter_id: counterIdOf(record), owner: record.owner, token, at };
}

// A later change to the same key takes the row over (its token, a fresh retry count).
const UPSERT =
  'ON CONFLICT (key_id) DO UPDATE SET digest = excluded.digest, counter_id = excluded.counter_id, owner = excluded.owner, token = excluded.token, attempts = 0, last_error = NULL';

export class OutboxRepository {
  constructor(private readonly db: D1Database) {}

  /** Records that key `keyId` needs syncing; conditional on `when` (the change applied). */
  enqueueStatement(row: NewOutboxRow, when?: SqlGuard): D1PreparedStatement {
    const values = [row.key_id, row.digest, row.counter_id, row.owner, row.token, row.at];
    if (!when) return this.db.prepare(`INSERT INTO outbox (key_id, digest, counter_id, owner, token, created_at) VALUES (?, ?, ?, ?, ?, ?) ${UPSERT}`).bind(...values);
    return this.db
      .prepare(`INSERT INTO outbox (key_id, digest, counter_id, owner, token, created_at) SELECT ?, ?, ?, ?, ?, ? WHERE ${when.sql} ${UPSERT}`)
      .bind(...values, ...when.args);
  }

  /** Enqueues every key a guarded bulk update stamped with `writeToken`. */
  enqueueStampedStatement(writeToken: string, token: string, at: number): D1PreparedStatement {
    return this.db
      .prepare(
        `INSERT INTO outbox (key_id, digest, counter_id, owner, token, created_at) SELECT id, digest, COALESCE(counter_id, id), owner, ?, ? FROM keys WHERE write_token = ? ${UPSERT}`,
      )
      .bind(token, at, writeToken);
  }

  async enqueue(row: NewOutboxRow): Promise<void> {
    await this.enqueueStatement(row).run();
  }

  async pending(limit: number): Promise<OutboxRow[]> {
    const res = await this.db.prepare('SELECT * FROM outbox ORDER BY created_at LIMIT ?').bind(limit).all<OutboxRow>();
    return res.results;
  }

  async has(keyId: string): Promise<boolean> {
    return (await this.db.prepare('SELECT 1 AS x FROM outbox WHERE key_id = ?').bind(keyId).first()) !== null;
  }

  /** Removes the row only if no later change re-enqueued the key meanwhile. */
  doneStatement(keyId: string, token: string): D1PreparedStatement {
    return this.db.prepare('DELETE FROM outbox WHERE key_id = ? AND token = ?').bind(keyId, token);
  }

  async failed(keyId: string, token: string, error: string): Promise<void> {
    await this.db.prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE key_id = ? AND token = ?').bind(error, keyId, token).run();
  }
}
