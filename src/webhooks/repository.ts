// D1 access for webhook endpoints, messages, deliveries and attempts. All SQL of
// src/webhooks lives here. An Endpoint never carries its signing secret: the secret columns
// are read by storedSecret() alone, for the delivery path and the re-seal sweep.

import { ulid } from '../lib/ids';
import type { Sealed } from '../lib/secret-box';
import type { NewMessage, WebhookEventType } from './events';
import type { StoredSecret } from './secrets';

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  events: WebhookEventType[];
  enabled: boolean;
  disabled_reason: string | null;
  failure_count: number;
  created_at: number;
  updated_at: number;
}

interface EndpointRow extends Omit<Endpoint, 'events' | 'enabled'> {
  events: string;
  enabled: number;
}

export interface Delivery {
  id: string;
  endpoint_id: string;
  message_id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface Attempt {
  attempt: number;
  at: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

// Every column but the secret ones.
const ENDPOINT_COLUMNS = 'id, url, description, events, enabled, disabled_reason, failure_count, created_at, updated_at';
const SECRET_COLUMNS = 'secret AS plaintext, sealed_secret AS sealed, master_version';

const fromRow = (r: EndpointRow): Endpoint => ({ ...r, events: JSON.parse(r.events) as WebhookEventType[], enabled: r.enabled === 1 });

/**
 * Endpoints that may exist at once. The dispatcher reads the enabled ones in one query of this
 * many, so a create past it is refused rather than made an endpoint that never gets events.
 */
export const MAX_ENDPOINTS = 1000;

/** A new endpoint id (the secret is sealed with it as additional data, so it comes first). */
export function newEndpointId(now: number): string {
  return `whe_${ulid(now)}`;
}

export class WebhookRepository {
  constructor(private readonly db: D1Database) {}

  /**
   * Stores a new endpoint with its secret sealed (id from newEndpointId, the sealing's
   * additional data), with its audit entry (guarded by exists(id)) in the same batch. Null
   * when MAX_ENDPOINTS exist: checked in the INSERT itself, so concurrent creates cannot pass it.
   */
  async create(id: string, e: Pick<Endpoint, 'url' | 'description' | 'events'>, secret: Sealed, now: number, audit: D1PreparedStatement): Promise<Endpoint | null> {
    const endpoint: Endpoint = { ...e, id, enabled: true, disabled_reason: null, failure_count: 0, created_at: now, updated_at: now };
    const [inserted] = await this.db.batch([
      this.db
        .prepare(
          `INSERT INTO webhook_endpoints (id, url, description, events, secret, sealed_secret, master_version, enabled, failure_count, created_at, updated_at)
           SELECT ?, ?, ?, ?, NULL, ?, ?, 1, 0, ?, ? WHERE (SELECT COUNT(*) FROM webhook_endpoints) < ?`,
        )
        .bind(id, e.url, e.description, JSON.stringify(e.events), secret.sealed, secret.version, now, now, MAX_ENDPOINTS),
      audit,
    ]);
    return (inserted?.meta.changes ?? 0) > 0 ? endpoint : null;
  }

  /** The guard an audit entry of a change to endpoint `id` is written under: the endpoint exists. */
  static exists(id: string): { sql: string; args: unknown[] } {
    return { sql: 'EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?)', args: [id] };
  }

  async get(id: string): Promise<Endpoint | null> {
    const row = await this.db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?`).bind(id).first<EndpointRow>();
    return row ? fromRow(row) : null;
  }

  async list(cursor: string | undefined, limit: number): Promise<Endpoint[]> {
    const res = cursor
      ? await this.db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id > ? ORDER BY id LIMIT ?`).bind(cursor, limit).all<EndpointRow>()
      : await this.db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id LIMIT ?`).bind(limit).all<EndpointRow>();
    return res.results.map(fromRow);
  }

  async enabled(): Promise<Endpoint[]> {
    const res = await this.db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled = 1 LIMIT ?`).bind(MAX_ENDPOINTS).all<EndpointRow>();
    return res.results.map(fromRow);
  }

  /** The endpoint's secret as stored (sealed, or a legacy plaintext); only for signing. */
  async storedSecret(id: string): Promise<StoredSecret | null> {
    return this.db.prepare(`SELECT ${SECRET_COLUMNS} FROM webhook_endpoints WHERE id = ?`).bind(id).first<StoredSecret>();
  }

  /**
   * Replaces a legacy plaintext secret, or one sealed under a previous master, with `sealed`.
   * Compare-and-set on what was read, so a racing re-seal or a deleted endpoint changes nothing.
   */
  async reseal(id: string, was: StoredSecret, sealed: Sealed): Promise<boolean> {
    const res = await this.db
      .prepare('UPDATE webhook_endpoints SET secret = NULL, sealed_secret = ?, master_version = ? WHERE id = ? AND secret IS ? AND sealed_secret IS ?')
      .bind(sealed.sealed, sealed.version, id, was.plaintext, was.sealed)
      .run();
    return res.meta.changes > 0;
  }

  /** Endpoints whose secret is plaintext or sealed under `previousVersion`: the sweep's work. */
  async secretsToReseal(previousVersion: string | null, limit: number): Promise<(StoredSecret & { id: string })[]> {
    const res = await this.db
      .prepare(`SELECT id, ${SECRET_COLUMNS} FROM webhook_endpoints WHERE secret IS NOT NULL OR master_version = ? ORDER BY id LIMIT ?`)
      .bind(previousVersion, limit)
      .all<StoredSecret & { id: string }>();
    return res.results;
  }

  /** How many endpoints still hold a plaintext secret. */
  async plaintextSecrets(): Promise<number> {
    return (await this.db.prepare('SELECT COUNT(*) AS n FROM webhook_endpoints WHERE secret IS NOT NULL').first<{ n: number }>())?.n ?? 0;
  }

  /** Updates an endpoint; `audit` (guarded by exists(id)) goes in the same batch, after the update. */
  async update(id: string, patch: Partial<Pick<Endpoint, 'url' | 'description' | 'events' | 'enabled'>>, now: number, audit: D1PreparedStatement): Promise<Endpoint | null> {
    const sets: string[] = ['updated_at = ?'];
    const args: unknown[] = [now];
    if (patch.url !== undefined) (sets.push('url = ?'), args.push(patch.url));
    if (patch.description !== undefined) (sets.push('description = ?'), args.push(patch.description));
    if (patch.events !== undefined) (sets.push('events = ?'), args.push(JSON.stringify(patch.events)));
    if (patch.enabled === true) sets.push('enabled = 1', 'disabled_reason = NULL', 'failure_count = 0');
    if (patch.enabled === false) sets.push("enabled = 0, disabled_reason = 'admin'");
    await this.db.batch([this.db.prepare(`UPDATE webhook_endpoints SET ${sets.join(', ')} WHERE id = ?`).bind(...args, id), audit]);
    return this.get(id);
  }

  /** Deletes an endpoint and its deliveries; `audit` (guarded by exists(id)) goes first in the same batch. */
  async delete(id: string, audit: D1PreparedStatement): Promise<boolean> {
    const [, res] = await this.db.batch([
      audit,
      this.db.prepare('DELETE FROM webhook_endpoints WHERE id = ?').bind(id),
      this.db.prepare('DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)').bind(id),
      this.db.prepare('DELETE FROM webhook_deliveries WHERE endpoint_id = ?').bind(id),
    ]);
    return (res?.meta.changes ?? 0) > 0;
  }

  /**
   * Inserts each message once (by its stable id) and one pending delivery per endpoint and
   * message (unique); returns the deliveries created now, so an event seen again sends nothing.
   */
  async insertMessages(messages: readonly { message: NewMessage; endpoints: readonly string[] }[], now: number): Promise<string[]> {
    const statements: D1PreparedStatement[] = [];
    const ids: (string | null)[] = [];
    for (const { message, endpoints } of messages) {
      statements.push(
        this.db.prepare('INSERT OR IGNORE INTO webhook_messages (id, type, payload, created_at) VALUES (?, ?, ?, ?)').bind(message.id, message.type, message.payload, message.at),
      );
      ids.push(null);
      for (const endpoint of endpoints) {
        const id = `whd_${ulid(now)}`;
        statements.push(
          this.db
            .prepare(
              `INSERT OR IGNORE INTO webhook_deliveries (id, endpoint_id, message_id, status, attempts, next_attempt_at, created_at, updated_at)
               VALUES (?, ?, ?, 'pending', 0, ?, ?, ?)`,
            )
            .bind(id, endpoint, message.id, now, now, now),
        );
        ids.push(id);
      }
    }
    if (statements.length === 0) return [];
    const results = await this.db.batch(statements);
    return ids.filter((id, i): id is string => id !== null && (results[i]?.meta.changes ?? 0) > 0);
  }

  async delivery(id: string): Promise<{ delivery: Delivery; endpoint: Endpoint | null; payload: string | null } | null> {
    const d = await this.db.prepare('SELECT * FROM webhook_deliveries WHERE id = ?').bind(id).first<Delivery>();
    if (!d) return null;
    const [endpoint, msg] = await Promise.all([this.get(d.endpoint_id), this.db.prepare('SELECT payload FROM webhook_messages WHERE id = ?').bind(d.message_id).first<{ payload: string }>()]);
    return { delivery: d, endpoint, payload: msg?.payload ?? null };
  }

  async deliveries(endpointId: string, cursor: string | undefined, limit: number): Promise<(Delivery & { type: string })[]> {
    const args: unknown[] = [endpointId];
    let sql = 'SELECT d.*, m.type AS type FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id WHERE d.endpoint_id = ?';
    if (cursor) (sql += ' AND d.id < ?'), args.push(cursor);
    const res = await this.db.prepare(`${sql} ORDER BY d.id DESC LIMIT ?`).bind(...args, limit).all<Delivery & { type: string }>();
    return res.results;
  }

  /**
   * The attempts of deliveries, in one query however many (a page of the delivery list): D1
   * caps the queries of one invocation, so a query per delivery would fail a full page.
   */
  async attemptsOf(deliveryIds: readonly string[]): Promise<Map<string, Attempt[]>> {
    const out = new Map<string, Attempt[]>(deliveryIds.map((id) => [id, []]));
    if (deliveryIds.length === 0) return out;
    const res = await this.db
      .prepare('SELECT delivery_id, attempt, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY delivery_id, attempt')
      .bind(JSON.stringify(deliveryIds))
      .all<Attempt & { delivery_id: string }>();
    for (const { delivery_id, ...a } of res.results) out.get(delivery_id)?.push(a);
    return out;
  }


  /** Records an attempt and the delivery's new state in one batch; also the endpoint's failure streak. */
  async recordAttempt(
    d: Delivery,
    a: Attempt,
    next: { status: Delivery['status']; next_attempt_at: number | null },
    endpoint: { reset: boolean; failed: boolean; disable: 'gone' | null; disableAfter: number },
  ): Promise<void> {
    const statements = [
      this.db
        .prepare('INSERT INTO webhook_attempts (id, delivery_id, attempt, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .bind(`wha_${ulid(a.at)}`, d.id, a.attempt, a.at, a.status, a.error, a.duration_ms),
      this.db
        .prepare('UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?')
        .bind(next.status, a.attempt, next.next_attempt_at, a.status, a.error, a.at, d.id),
    ];
    if (endpoint.reset) statements.push(this.db.prepare('UPDATE webhook_endpoints SET failure_count = 0 WHERE id = ?').bind(d.endpoint_id));
    if (endpoint.failed) {
      statements.push(
        this.db
          .prepare(
            `UPDATE webhook_endpoints SET failure_count = failure_count + 1,
               enabled = CASE WHEN failure_count + 1 >= ? THEN 0 ELSE enabled END,
               disabled_reason = CASE WHEN failure_count + 1 >= ? AND enabled = 1 THEN 'failing' ELSE disabled_reason END WHERE id = ?`,
          )
          .bind(endpoint.disableAfter, endpoint.disableAfter, d.endpoint_id),
      );
    }
    if (endpoint.disable === 'gone') {
      statements.push(this.db.prepare("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'gone', updated_at = ? WHERE id = ?").bind(a.at, d.endpoint_id));
    }
    await this.db.batch(statements);
  }

  async markFailed(id: string, error: string, now: number): Promise<void> {
    await this.db.prepare("UPDATE webhook_deliveries SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?").bind(error, now, id).run();
  }

  /** A failed delivery goes back to pending with a fresh attempt budget. */
  async replay(id: string, now: number): Promise<boolean> {
    const res = await this.db
      .prepare("UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status != 'pending'")
      .bind(now, now, id)
      .run();
    return res.meta.changes > 0;
  }

  /** Pending deliveries whose job is overdue (a lost send): claimed by moving next_attempt_at. */
  async claimOverdue(now: number, graceMs: number, limit: number): Promise<{ id: string; attempts: number }[]> {
    const res = await this.db
      .prepare(
        `UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id IN
           (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at < ? ORDER BY next_attempt_at LIMIT ?)
         RETURNING id, attempts`,
      )
      .bind(now, now - graceMs, limit)
      .all<{ id: string; attempts: number }>();
    return res.results;
  }
}
