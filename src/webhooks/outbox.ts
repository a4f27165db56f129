// Turns events into webhook messages and deliveries. Key lifecycle events are read from the
// audit log (committed with the change it records), over a lookback longer than the cron's
// period, so an admin change whose follow-up was lost is still sent by the next cron run;
// stable message ids make a second look insert nothing.

import { fromRow } from '../keys/repository';
import { presentKey } from '../keys/record';
import type { QueueMessage } from '../events/messages';
import { ulid } from '../lib/ids';
import { eventForAudit, message, type NewMessage } from './events';
import { queueDeliveries } from './delivery';
import { WebhookRepository } from './repository';

const LOOKBACK_MS = 15 * 60_000;
const OVERDUE_GRACE_MS = 10 * 60_000;

/** Stores the messages some enabled endpoint subscribes to (endpoints never get events from before they existed), and queues their deliveries. */
export async function publish(db: D1Database, queue: Queue<QueueMessage> | undefined, messages: readonly NewMessage[], now = Date.now()): Promise<number> {
  if (messages.length === 0) return 0;
  const repo = new WebhookRepository(db);
  const endpoints = await repo.enabled();
  if (endpoints.length === 0) return 0;
  const targets = messages
    .map((m) => ({ message: m, endpoints: endpoints.filter((e) => e.created_at <= m.at && (e.events as string[]).includes(m.type)).map((e) => e.id) }))
    .filter((t) => t.endpoints.length > 0);
  const created = await repo.insertMessages(targets, now);
  await queueDeliveries(queue, created);
  return created.length;
}

interface AuditRow {
  id: string;
  at: number;
  actor: string;
  action: string;
  key_id: string | null;
  changes: string;
}

// Audit entries read per query; a run reads pages until the window is done, at most
// MAX_AUDIT_PAGES of them (a later run, the lookback permitting, reads on).
const AUDIT_PAGE = 500;
const MAX_AUDIT_PAGES = 40;

/**
 * key.* webhook messages for the audit entries of the lookback window, page by page: a bulk
 * change writes one entry per key in one instant, and a single page from the window's start
 * would never reach the entries past it.
 */
export async function dispatchAudit(db: D1Database, queue: Queue<QueueMessage> | undefined, now = Date.now()): Promise<number> {
  const repo = new WebhookRepository(db);
  if ((await repo.enabled()).length === 0) return 0;
  let cursor = `aud_${ulid(now - LOOKBACK_MS).slice(0, 10)}`;
  let published = 0;
  for (let page = 0; page < MAX_AUDIT_PAGES; page++) {
    const rows = (await db.prepare('SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?').bind(cursor, AUDIT_PAGE).all<AuditRow>()).results;
    if (rows.length === 0) break;
    published += await publish(db, queue, await auditMessages(db, rows, now), now);
    if (rows.length < AUDIT_PAGE) break;
    cursor = (rows[rows.length - 1] as AuditRow).id;
  }
  return published;
}

async function auditMessages(db: D1Database, rows: readonly AuditRow[], now: number): Promise<NewMessage[]> {
  const messages: NewMessage[] = [];
  const keyIds = [...new Set(rows.map((r) => r.key_id).filter((id): id is string => id !== null))];
  const keys = new Map<string, ReturnType<typeof presentKey>>();
  for (let i = 0; i < keyIds.length; i += 90) {
    const chunk = keyIds.slice(i, i + 90);
    const res = await db.prepare(`SELECT * FROM keys WHERE id IN (${chunk.map(() => '?').join(', ')})`).bind(...chunk).all<Parameters<typeof fromRow>[0]>();
    for (const row of res.results) keys.set(row.id, presentKey(fromRow(row), now));
  }
  for (const row of rows) {
    const type = eventForAudit(row.action);
    if (!type) continue;
    messages.push(
      message(`msg_${row.id}`, type, row.at, {
        key_id: row.key_id,
        actor: row.actor,
        changes: JSON.parse(row.changes) as string[],
        key: row.key_id ? (keys.get(row.key_id) ?? null) : null,
      }),
    );
  }
  return messages;
}

/** Re-queues pending deliveries whose queue job was lost (a failed send); run by the cron. */
export async function requeueOverdue(db: D1Database, queue: Queue<QueueMessage> | undefined, now = Date.now()): Promise<number> {
  if (!queue) return 0;
  const due = await new WebhookRepository(db).claimOverdue(now, OVERDUE_GRACE_MS, 100);
  if (due.length === 0) return 0;
  await queue.sendBatch(due.map((d) => ({ body: { kind: 'delivery' as const, delivery_id: d.id, attempt: d.attempts + 1 }, contentType: 'json' as const })));
  return due.length;
}
