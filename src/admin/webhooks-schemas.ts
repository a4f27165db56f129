// The /admin/webhooks documents: request bodies, path parameters and response schemas (as the
// OpenAPI document states them), and how endpoints, deliveries and attempts are presented.

import { z } from '@hono/zod-openapi';
import { WEBHOOK_EVENTS } from '../webhooks/events';
import type { Endpoint, WebhookRepository } from '../webhooks/repository';

const EventType = z.enum(WEBHOOK_EVENTS);
export const WebhookParam = z.object({ id: z.string().regex(/^whe_[0-9A-Z]{26}$/, 'must be a webhook id').openapi({ param: { name: 'id', in: 'path' } }) });
export const DeliveryParam = WebhookParam.extend({
  delivery_id: z.string().regex(/^whd_[0-9A-Z]{26}$/, 'must be a delivery id').openapi({ param: { name: 'delivery_id', in: 'path' } }),
});

export const CreateBody = z
  .object({ url: z.string().min(1).max(2048), events: z.array(EventType).min(1).max(WEBHOOK_EVENTS.length), description: z.string().max(500).default('') })
  .strict()
  .openapi('CreateWebhook');
export const UpdateBody = z
  .object({ url: z.string().min(1).max(2048), events: z.array(EventType).min(1).max(WEBHOOK_EVENTS.length), description: z.string().max(500), enabled: z.boolean() })
  .partial()
  .strict()
  .openapi('UpdateWebhook');

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    events: z.array(EventType),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().describe('gone (the receiver answered 410), failing (5 deliveries in a row failed every attempt) or admin'),
    failure_count: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Webhook');
export const CreatedWebhookSchema = WebhookSchema.extend({ secret: z.string().describe('whsec_...: the Standard Webhooks signing secret. Shown once.') }).openapi('CreatedWebhook');
const AttemptSchema = z.object({ attempt: z.number().int(), at: z.string(), status: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number().int() });
export const DeliverySchema = z
  .object({
    id: z.string(),
    message_id: z.string().describe('The webhook-id header: the same on every attempt and replay'),
    type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    attempt_log: z.array(AttemptSchema),
  })
  .openapi('WebhookDelivery');

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
export function present(e: Endpoint) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    disabled_reason: e.disabled_reason,
    failure_count: e.failure_count,
    created_at: new Date(e.created_at).toISOString(),
    updated_at: new Date(e.updated_at).toISOString(),
  };
}

type DeliveryRow = Awaited<ReturnType<WebhookRepository['deliveries']>>[number];
export function deliveryFields(d: Omit<DeliveryRow, 'type'>) {
  return {
    id: d.id,
    message_id: d.message_id,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: iso(d.next_attempt_at),
    last_status: d.last_status,
    last_error: d.last_error,
    created_at: new Date(d.created_at).toISOString(),
    updated_at: new Date(d.updated_at).toISOString(),
  };
}
export const presentAttempt = (a: { attempt: number; at: number; status: number | null; error: string | null; duration_ms: number }) => ({ ...a, at: new Date(a.at).toISOString() });
