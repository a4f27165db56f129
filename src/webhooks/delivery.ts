// One delivery attempt: sign, POST, record the attempt, and schedule the next one with
// exponential backoff (60 s x 5^n, capped at Queues' 12-hour maximum delay) until
// WEBHOOK_MAX_ATTEMPTS. The default 8 attempts span about 37 hours. A 410 disables the
// endpoint; so do DISABLE_AFTER_FAILED_DELIVERIES deliveries in a row that failed every attempt.
// A secret that cannot be opened (no master key, or not the one that sealed it) fails the
// attempt before anything is sent, with the reason recorded: never an unsigned delivery. It is
// retried like any failed attempt (restoring the master lets a later one succeed) but does not
// count against the endpoint: the receiver did nothing wrong.

import type { QueueMessage } from '../events/messages';
import { enqueue } from '../events/emit';
import { openSecret, type Masters } from './secrets';
import { signedHeaders } from './signing';
import { checkWebhookUrl } from './ssrf';
import type { Attempt, Delivery, WebhookRepository } from './repository';

export const DISABLE_AFTER_FAILED_DELIVERIES = 5;
const TIMEOUT_MS = 10_000;
const MAX_DELAY_S = 43_200;

/** Seconds to wait after failed attempt n (1-based). */
export function backoffSeconds(attempt: number): number {
  return Math.min(MAX_DELAY_S, 60 * 5 ** (attempt - 1));
}

export interface DeliverySettings {
  maxAttempts: number;
  allowPrivate: boolean;
  queue: Queue<QueueMessage> | undefined;
  /** SECRETS_MASTER_KEY and SECRETS_MASTER_KEY_PREVIOUS, which open the endpoints' secrets. */
  masters: Masters;
  /**
   * A test ping: its one attempt says nothing about events the endpoint would miss, so a
   * failure does not count towards disabling it (a 410 still does: the receiver asked).
   */
  probe?: boolean;
}

export type AttemptResult = { done: true; attempt?: Attempt } | { done: false; retryInSeconds: number; attempt: Attempt };

/**
 * Runs attempt `expected` of a delivery. A job for an attempt already made (a duplicate
 * job, a replay racing a retry) does nothing.
 */
export async function attemptDelivery(repo: WebhookRepository, deliveryId: string, expected: number | undefined, s: DeliverySettings, now = Date.now()): Promise<AttemptResult> {
  const found = await repo.delivery(deliveryId);
  if (!found || found.delivery.status !== 'pending') return { done: true };
  const { delivery, endpoint, payload } = found;
  if (expected !== undefined && delivery.attempts + 1 !== expected) return { done: true };
  if (!endpoint || !endpoint.enabled || payload === null) {
    await repo.markFailed(delivery.id, endpoint ? `endpoint disabled (${endpoint.disabled_reason ?? 'admin'})` : 'endpoint deleted', now);
    return { done: true };
  }
  const n = delivery.attempts + 1;
  const secret = await signingSecret(repo, endpoint.id, s.masters);
  const attempt = secret.ok
    ? await post(endpoint.url, secret.secret, delivery.message_id, payload, s.allowPrivate, n, now)
    : { attempt: n, at: now, status: null, error: secret.reason, duration_ms: 0 };
  const ok = attempt.status !== null && attempt.status >= 200 && attempt.status < 300;
  const gone = attempt.status === 410;
  const exhausted = !ok && (gone || attempt.attempt >= s.maxAttempts);
  const retryIn = backoffSeconds(attempt.attempt);
  await repo.recordAttempt(
    delivery,
    attempt,
    { status: ok ? 'succeeded' : exhausted ? 'failed' : 'pending', next_attempt_at: ok || exhausted ? null : now + retryIn * 1000 },
    { reset: ok, failed: exhausted && !gone && secret.ok && !s.probe, disable: gone ? 'gone' : null, disableAfter: DISABLE_AFTER_FAILED_DELIVERIES },
  );
  if (ok || exhausted) return { done: true, attempt };
  return { done: false, retryInSeconds: retryIn, attempt };
}

/** Schedules the next attempt on the queue; if that send fails the cron re-queues it. */
export async function scheduleRetry(queue: Queue<QueueMessage> | undefined, delivery: Pick<Delivery, 'id'>, nextAttempt: number, delaySeconds: number): Promise<void> {
  if (!queue) return;
  try {
    await queue.send({ kind: 'delivery', delivery_id: delivery.id, attempt: nextAttempt }, { delaySeconds, contentType: 'json' });
  } catch {
    // next_attempt_at is recorded: the cron's sweep sends it.
  }
}

export function queueDeliveries(queue: Queue<QueueMessage> | undefined, ids: readonly string[]): Promise<void> {
  return Promise.all(ids.map((id) => enqueue(queue, { kind: 'delivery', delivery_id: id, attempt: 1 }))).then(() => undefined);
}

/** The endpoint's plaintext secret, sealing a legacy or previous-master row on the way. */
async function signingSecret(repo: WebhookRepository, endpointId: string, masters: Masters): Promise<{ ok: true; secret: string } | { ok: false; reason: string }> {
  const stored = await repo.storedSecret(endpointId);
  if (!stored) return { ok: false, reason: 'endpoint deleted' };
  const opened = await openSecret(masters, endpointId, stored);
  if (!opened.ok) return opened;
  if (opened.reseal) {
    // Best effort: a failed write leaves the row as it was (the plaintext in hand signs this
    // delivery either way), and the next read or the cron's sweep seals it.
    await repo.reseal(endpointId, stored, opened.reseal).catch(() => false);
  }
  return { ok: true, secret: opened.secret };
}

async function post(url: string, secret: string, messageId: string, payload: string, allowPrivate: boolean, n: number, now: number): Promise<Attempt> {
  const started = Date.now();
  const check = checkWebhookUrl(url, allowPrivate);
  if (!check.ok) return { attempt: n, at: now, status: null, error: `url refused: ${check.reason}`, duration_ms: 0 };
  try {
    const res = await fetch(check.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'keygate-webhooks/1', ...signedHeaders(secret, messageId, payload, new Date(now)) },
      body: payload,
      // Redirects are failures: following one would skip the destination check.
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.body?.cancel();
    return { attempt: n, at: now, status: res.status, error: res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`, duration_ms: Date.now() - started };
  } catch (err) {
    const error = err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : 'network error';
    return { attempt: n, at: now, status: null, error, duration_ms: Date.now() - started };
  }
}
