// The webhook event types and how each is derived: key lifecycle events from the audit log
// (written in the same D1 batch as the change, so none is missed), limit and budget events
// from request events in the queue consumer. Payloads follow Standard Webhooks:
// { type, timestamp, data }.

import type { AuditAction } from '../keys/audit';
import type { RequestEvent } from '../events/messages';

export const WEBHOOK_EVENTS = [
  'key.created', 'key.updated', 'key.activated', 'key.deactivated', 'key.revoked', 'key.rotated', 'key.expired', 'key.deleted',
  'limit.exceeded', 'budget.threshold', 'budget.exhausted',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Sent by POST /admin/webhooks/{id}/test only; never subscribed to. */
export const PING_EVENT = 'webhook.ping';

const BY_AUDIT_ACTION = new Map<AuditAction, WebhookEventType>([
  ['create', 'key.created'],
  ['update', 'key.updated'],
  ['extend', 'key.updated'],
  ['activate', 'key.activated'],
  ['deactivate', 'key.deactivated'],
  ['revoke', 'key.revoked'],
  ['rotate', 'key.rotated'],
  ['expire', 'key.expired'],
  ['delete', 'key.deleted'],
]);

export function eventForAudit(action: string): WebhookEventType | undefined {
  return BY_AUDIT_ACTION.get(action as AuditAction);
}

export interface NewMessage {
  /** Stable per event: the webhook-id, and the debounce (a second insert is ignored). */
  id: string;
  type: WebhookEventType | typeof PING_EVENT;
  payload: string;
  at: number;
}

export function message(id: string, type: NewMessage['type'], at: number, data: Record<string, unknown>): NewMessage {
  return { id, type, at, payload: JSON.stringify({ type, timestamp: new Date(at).toISOString(), data }) };
}

/** Ids built from config names and key ids: only characters that read well in a header. */
function part(s: string | number): string {
  return String(s).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
}

/**
 * limit.exceeded (once per key, window and period), budget.threshold (once per period, at
 * `threshold` of the budget) and budget.exhausted (once per period) from request events.
 */
export function alertsFor(events: readonly RequestEvent[], threshold: number): NewMessage[] {
  const out: NewMessage[] = [];
  for (const e of events) {
    const base = { key_id: e.key_id, owner: e.owner, route: e.route };
    if (e.outcome === 'rate_limited' && e.limit && Number.isFinite(e.limit.reset)) {
      out.push(
        message(`msg_limit.exceeded_${part(e.key_id)}_${part(e.limit.name)}_${part(e.limit.reset)}`, 'limit.exceeded', e.at, {
          ...base,
          limit: e.limit.name,
          reset: new Date(e.limit.reset).toISOString(),
          request_id: e.request_id,
        }),
      );
    }
    const b = e.budget;
    if (!b || !(b.limit_micros > 0)) continue;
    const remaining = b.remaining_micros ?? b.limit_micros;
    const spent = Math.max(0, b.limit_micros - remaining);
    const data = { ...base, period: b.period, period_key: b.period_key, budget_usd: b.limit_micros / 1e6, spent_usd: spent / 1e6 };
    if (e.outcome === 'budget_exhausted' || remaining <= 0) {
      out.push(message(`msg_budget.exhausted_${part(e.key_id)}_${part(b.period_key)}`, 'budget.exhausted', e.at, data));
    }
    if (spent / b.limit_micros >= threshold) {
      out.push(message(`msg_budget.threshold_${part(e.key_id)}_${part(b.period_key)}`, 'budget.threshold', e.at, { ...data, threshold }));
    }
  }
  return out;
}
