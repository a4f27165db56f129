// Retention of webhook history, run by the cron: finished deliveries (succeeded or failed for
// good) with their attempts, and messages no delivery refers to any more, once older than the
// log retention. Pending deliveries are never touched, whatever their age.
//
// A message's id is what keeps limit.exceeded and budget.* alerts to one per key, window and
// period (webhooks/events.ts): removing it early would let the same period alert again. So
// messages, and the deliveries that hold them, are kept at least MIN_DAYS, longer than any
// window or budget period but `total`, whose alert may repeat once its message is gone.

const DAY_MS = 86_400_000;
const MIN_DAYS = 32;
/** Rows per statement and run: the next run removes the rest. */
const BATCH = 2000;

export async function pruneWebhooks(db: D1Database, now: number, retentionDays: number): Promise<{ deliveries: number; messages: number }> {
  const cutoff = now - Math.max(retentionDays, MIN_DAYS) * DAY_MS;
  // The same ordered selection in both statements of one batch (one transaction): the
  // attempts of exactly the deliveries removed after them.
  const finished = `SELECT id FROM webhook_deliveries WHERE status != 'pending' AND updated_at < ? ORDER BY id LIMIT ${BATCH}`;
  const [, deliveries, messages] = await db.batch([
    db.prepare(`DELETE FROM webhook_attempts WHERE delivery_id IN (${finished})`).bind(cutoff),
    db.prepare(`DELETE FROM webhook_deliveries WHERE id IN (${finished})`).bind(cutoff),
    db
      .prepare(
        `DELETE FROM webhook_messages WHERE id IN (SELECT m.id FROM webhook_messages m WHERE m.created_at < ?
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id) ORDER BY m.created_at LIMIT ${BATCH})`,
      )
      .bind(cutoff),
  ]);
  return { deliveries: deliveries?.meta.changes ?? 0, messages: messages?.meta.changes ?? 0 };
}
