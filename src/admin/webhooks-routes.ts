// /admin/webhooks: outbound webhook endpoints (create, list, get, update, delete), a test
// ping, the delivery record, and replay of a failed delivery. The signing secret is
// returned once, at creation, and stored only sealed under SECRETS_MASTER_KEY: without a
// usable master, creating an endpoint answers 500 config_invalid and stores nothing.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { attemptDelivery } from '../webhooks/delivery';
import { message, PING_EVENT } from '../webhooks/events';
import { MAX_ENDPOINTS, newEndpointId, WebhookRepository, type Endpoint } from '../webhooks/repository';
import { sealSecret } from '../webhooks/secrets';
import { newSecret } from '../webhooks/signing';
import { checkWebhookUrl } from '../webhooks/ssrf';
import { enqueue } from '../events/emit';
import { auditStatement } from '../keys/audit';
import { ADMIN_AUTH_ERRORS, errorResponses, json, ok } from './schemas';
import { signingBox } from './signing-routes';
import { CreateBody, CreatedWebhookSchema, DeliveryParam, DeliverySchema, deliveryFields, present, presentAttempt, UpdateBody, WebhookParam, WebhookSchema } from './webhooks-schemas';
import { validationError } from './validation';

export const webhooksApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});


function checkedUrl(raw: string, allowPrivate: boolean): string {
  const check = checkWebhookUrl(raw, allowPrivate);
  if (!check.ok) throw new GatewayError('validation_failed', undefined, { details: [{ path: 'url', message: check.reason }] });
  return check.url.href;
}

/**
 * An endpoint change's audit entry: the endpoint id and the names of the fields changed. Never
 * the URL (its path or query may carry the receiver's own token) nor the secret.
 */
function webhookAudit(
  c: Context<AppEnv>,
  action: 'webhook_create' | 'webhook_update' | 'webhook_delete',
  id: string,
  now: number,
  fields: readonly string[],
  when?: { sql: string; args: unknown[] },
): D1PreparedStatement {
  return auditStatement(c.env.DB, { at: now, actor: c.get('actor'), action, key_id: null, changes: [`webhook:${id}`, ...fields] }, when);
}

async function found(repo: WebhookRepository, id: string): Promise<Endpoint> {
  const e = await repo.get(id);
  if (!e) throw new GatewayError('not_found', 'No webhook with this id.');
  return e;
}

webhooksApp.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks',
    summary: 'Create a webhook endpoint (the signing secret is returned once)',
    tags: ['webhooks'],
    request: { body: json(CreateBody) },
    responses: {
      201: ok(CreatedWebhookSchema, 'The endpoint and its signing secret'),
      ...errorResponses('validation_failed', 'invalid_json', 'unsupported_media_type', 'conflict', 'config_invalid', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const url = checkedUrl(body.url, c.get('config').WEBHOOKS_ALLOW_PRIVATE);
    const box = await signingBox(c);
    const now = Date.now();
    const id = newEndpointId(now);
    const secret = newSecret();
    const audit = webhookAudit(c, 'webhook_create', id, now, ['url', 'events', 'description'], WebhookRepository.exists(id));
    const endpoint = await new WebhookRepository(c.env.DB).create(id, { url, description: body.description, events: [...new Set(body.events)] }, await sealSecret(box, id, secret), now, audit);
    if (!endpoint) throw new GatewayError('conflict', `There are already ${MAX_ENDPOINTS} webhook endpoints; delete one first.`);
    return c.json({ ...present(endpoint), secret }, 201, { 'cache-control': 'no-store' });
  },
);

webhooksApp.openapi(
  createRoute({
    method: 'get',
    path: '/webhooks',
    summary: 'List webhook endpoints',
    tags: ['webhooks'],
    request: { query: z.object({ cursor: z.string().regex(/^whe_[0-9A-Z]{26}$/).optional(), limit: z.coerce.number().int().min(1).max(100).default(50) }) },
    responses: { 200: ok(z.object({ webhooks: z.array(WebhookSchema), next_cursor: z.string().nullable() }).openapi('WebhookList'), 'A page of endpoints'), ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const rows = await new WebhookRepository(c.env.DB).list(q.cursor, q.limit + 1);
    const page = rows.slice(0, q.limit);
    return c.json({ webhooks: page.map(present), next_cursor: rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null }, 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: 'get',
    path: '/webhooks/{id}',
    summary: 'Get a webhook endpoint',
    tags: ['webhooks'],
    request: { params: WebhookParam },
    responses: { 200: ok(WebhookSchema, 'The endpoint'), ...errorResponses('validation_failed', 'not_found', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => c.json(present(await found(new WebhookRepository(c.env.DB), c.req.valid('param').id)), 200),
);

webhooksApp.openapi(
  createRoute({
    method: 'patch',
    path: '/webhooks/{id}',
    summary: 'Update a webhook endpoint (enabled: true re-enables a disabled one)',
    tags: ['webhooks'],
    request: { params: WebhookParam, body: json(UpdateBody) },
    responses: { 200: ok(WebhookSchema, 'The updated endpoint'), ...errorResponses('validation_failed', 'invalid_json', 'unsupported_media_type', 'not_found', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const repo = new WebhookRepository(c.env.DB);
    const { id } = c.req.valid('param');
    await found(repo, id);
    const body = c.req.valid('json');
    const url = body.url === undefined ? undefined : checkedUrl(body.url, c.get('config').WEBHOOKS_ALLOW_PRIVATE);
    const now = Date.now();
    const fields = (['url', 'events', 'description', 'enabled'] as const).filter((f) => body[f] !== undefined);
    const audit = webhookAudit(c, 'webhook_update', id, now, fields, WebhookRepository.exists(id));
    const updated = await repo.update(id, { ...body, url, events: body.events ? [...new Set(body.events)] : undefined }, now, audit);
    // Deleted since the check above: the update changed nothing.
    if (!updated) throw new GatewayError('not_found', 'No webhook with this id.');
    return c.json(present(updated), 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: 'delete',
    path: '/webhooks/{id}',
    summary: 'Delete a webhook endpoint and its delivery record',
    tags: ['webhooks'],
    request: { params: WebhookParam },
    responses: { 200: ok(z.object({ deleted: z.literal(true), id: z.string() }), 'Deleted'), ...errorResponses('validation_failed', 'not_found', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const audit = webhookAudit(c, 'webhook_delete', id, Date.now(), [], WebhookRepository.exists(id));
    if (!(await new WebhookRepository(c.env.DB).delete(id, audit))) throw new GatewayError('not_found', 'No webhook with this id.');
    return c.json({ deleted: true as const, id }, 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks/{id}/test',
    summary: 'Send a signed webhook.ping to the endpoint now and report the attempt',
    tags: ['webhooks'],
    request: { params: WebhookParam },
    responses: { 200: ok(DeliverySchema, 'The ping delivery (succeeded or failed, with the attempt)'), ...errorResponses('validation_failed', 'not_found', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const repo = new WebhookRepository(c.env.DB);
    const endpoint = await found(repo, c.req.valid('param').id);
    const now = Date.now();
    const ping = message(`msg_ping_${crypto.randomUUID().replaceAll('-', '')}`, PING_EVENT, now, { webhook_id: endpoint.id });
    const [deliveryId] = await repo.insertMessages([{ message: ping, endpoints: [endpoint.id] }], now);
    const config = c.get('config');
    // One attempt, now: a ping is a check, not an event to retry for a day.
    await attemptDelivery(repo, deliveryId as string, 1, { maxAttempts: 1, allowPrivate: config.WEBHOOKS_ALLOW_PRIVATE, queue: undefined, masters: c.env, probe: true }, now);
    return c.json(await presentDelivery(repo, deliveryId as string), 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: 'get',
    path: '/webhooks/{id}/deliveries',
    summary: 'Deliveries to this endpoint, newest first, with every attempt',
    tags: ['webhooks'],
    request: { params: WebhookParam, query: z.object({ cursor: z.string().regex(/^whd_[0-9A-Z]{26}$/).optional(), limit: z.coerce.number().int().min(1).max(100).default(50) }) },
    responses: {
      200: ok(z.object({ deliveries: z.array(DeliverySchema), next_cursor: z.string().nullable() }).openapi('WebhookDeliveryList'), 'A page of deliveries'),
      ...errorResponses('validation_failed', 'not_found', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const repo = new WebhookRepository(c.env.DB);
    const { id } = c.req.valid('param');
    await found(repo, id);
    const q = c.req.valid('query');
    const rows = await repo.deliveries(id, q.cursor, q.limit + 1);
    const page = rows.slice(0, q.limit);
    const attempts = await repo.attemptsOf(page.map((d) => d.id));
    const deliveries = page.map((d) => ({ ...deliveryFields(d), type: d.type, attempt_log: (attempts.get(d.id) ?? []).map(presentAttempt) }));
    return c.json({ deliveries, next_cursor: rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null }, 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: 'post',
    path: '/webhooks/{id}/deliveries/{delivery_id}/replay',
    summary: 'Send a failed or finished delivery again (same webhook-id), with a fresh attempt budget',
    tags: ['webhooks'],
    request: { params: DeliveryParam },
    responses: { 202: ok(DeliverySchema, 'The delivery, pending again'), ...errorResponses('validation_failed', 'not_found', 'conflict', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const repo = new WebhookRepository(c.env.DB);
    const { id, delivery_id } = c.req.valid('param');
    const d = await repo.delivery(delivery_id);
    if (!d || d.delivery.endpoint_id !== id) throw new GatewayError('not_found', 'No such delivery for this webhook.');
    if (!(await repo.replay(delivery_id, Date.now()))) throw new GatewayError('conflict', 'The delivery is already pending.');
    c.executionCtx.waitUntil(enqueue(c.env.EVENTS, { kind: 'delivery', delivery_id, attempt: 1 }));
    return c.json(await presentDelivery(repo, delivery_id), 202);
  },
);

async function presentDelivery(repo: WebhookRepository, id: string) {
  const d = await repo.delivery(id);
  if (!d) throw new GatewayError('not_found');
  const type = d.payload ? ((JSON.parse(d.payload) as { type: string }).type ?? '') : '';
  return { ...deliveryFields(d.delivery), type, attempt_log: ((await repo.attemptsOf([id])).get(id) ?? []).map(presentAttempt) };
}
