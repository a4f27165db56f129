// keygate's own queue consumer (EVENTS and its dead-letter queue). Request and use events
// (packed many to a message, or one per message as older producers sent them) are written
// to D1 in one transaction per batch (per 1,000 events in a larger one); a D1 failure retries
// those messages (a redelivered event is written and counted once; nothing is
// dropped silently: after the queue's max_retries they reach the dead-letter queue, which
// this consumer stores in D1 `dead_letters`). Webhook jobs are delivered one by one.

import { loadConfig } from '../config/load';
import type { Env } from '../env';
import { alertsFor } from '../webhooks/events';
import { attemptDelivery, scheduleRetry } from '../webhooks/delivery';
import { dispatchAudit, publish } from '../webhooks/outbox';
import { WebhookRepository } from '../webhooks/repository';
import { writeBatch } from './log-store';
import { unpack, type DeliveryJob, type QueueMessage, type RequestEvent, type UseEvent } from './messages';

const DLQ_SUFFIX = '-dlq';

/** Retry delay for a batch D1 refused: grows with the message's attempts, capped at 5 minutes. */
function retryDelay(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));
}

export async function consume(batch: MessageBatch<QueueMessage>, env: Env): Promise<void> {
  if (batch.queue.endsWith(DLQ_SUFFIX)) return storeDeadLetters(batch, env);
  const loaded = loadConfig(env);
  if (!loaded.ok) {
    // The configuration is broken: keep every message for when it is fixed.
    console.error(JSON.stringify({ level: 'error', event: 'queue_config_invalid', message: loaded.message }));
    batch.retryAll({ delaySeconds: 60 });
    return;
  }
  const config = loaded.config;

  const logged: Message<QueueMessage>[] = [];
  const requests: RequestEvent[] = [];
  const uses: UseEvent[] = [];
  const deliveries: Message<QueueMessage>[] = [];
  const dispatches: Message<QueueMessage>[] = [];
  for (const msg of batch.messages) {
    const body = msg.body;
    if (typeof body === 'string') {
      const events = unpack(body);
      if (!events) {
        msg.ack(); // not ours
        continue;
      }
      for (const e of events) {
        if (e.kind === 'request') requests.push(e);
        else uses.push(e);
      }
      logged.push(msg);
    } else if (body?.kind === 'request') (requests.push(body), logged.push(msg));
    else if (body?.kind === 'use') (uses.push(body), logged.push(msg));
    else if (body?.kind === 'delivery') deliveries.push(msg);
    else if (body?.kind === 'dispatch') dispatches.push(msg);
    else msg.ack(); // not ours (an older or foreign shape): nothing to do with it
  }

  if (logged.length > 0) {
    let stored = false;
    try {
      await writeBatch(env.DB, requests, uses);
      for (const m of logged) m.ack();
      stored = true;
    } catch (err) {
      console.error(JSON.stringify({ level: 'error', event: 'request_log_write_failed', messages: logged.length, events: requests.length + uses.length, message: errMessage(err) }));
      for (const m of logged) m.retry({ delaySeconds: retryDelay(m.attempts) });
    }
    // Alerts only from events now stored; a failure here is retried by the next event of the same kind.
    if (stored && requests.length > 0) {
      const alerts = alertsFor(requests, config.BUDGET_ALERT_THRESHOLD);
      if (alerts.length > 0) await publish(env.DB, env.EVENTS, alerts).catch((err) => console.error(JSON.stringify({ level: 'error', event: 'webhook_publish_failed', message: errMessage(err) })));
    }
  }

  if (dispatches.length > 0) {
    try {
      await dispatchAudit(env.DB, env.EVENTS);
      for (const m of dispatches) m.ack();
    } catch (err) {
      console.error(JSON.stringify({ level: 'error', event: 'webhook_dispatch_failed', message: errMessage(err) }));
      for (const m of dispatches) m.retry({ delaySeconds: retryDelay(m.attempts) });
    }
  }

  const repo = new WebhookRepository(env.DB);
  const settings = { maxAttempts: config.WEBHOOK_MAX_ATTEMPTS, allowPrivate: config.WEBHOOKS_ALLOW_PRIVATE, queue: env.EVENTS, masters: env };
  await Promise.all(
    deliveries.map(async (m) => {
      const job = m.body as DeliveryJob;
      try {
        const result = await attemptDelivery(repo, job.delivery_id, job.attempt, settings);
        if (!result.done) await scheduleRetry(env.EVENTS, { id: job.delivery_id }, result.attempt.attempt + 1, result.retryInSeconds);
        m.ack();
      } catch (err) {
        // D1 failed around the attempt: let the queue retry this job.
        console.error(JSON.stringify({ level: 'error', event: 'webhook_delivery_error', delivery_id: job.delivery_id, message: errMessage(err) }));
        m.retry({ delaySeconds: retryDelay(m.attempts) });
      }
    }),
  );
}

async function storeDeadLetters(batch: MessageBatch<QueueMessage>, env: Env): Promise<void> {
  const now = Date.now();
  const statements = batch.messages.map((m) =>
    env.DB.prepare('INSERT OR IGNORE INTO dead_letters (id, queue, body, created_at) VALUES (?, ?, ?, ?)').bind(m.id, batch.queue, typeof m.body === 'string' ? m.body : JSON.stringify(m.body), now),
  );
  console.error(JSON.stringify({ level: 'error', event: 'dead_letters', queue: batch.queue, messages: batch.messages.length }));
  await env.DB.batch(statements);
  batch.ackAll();
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
