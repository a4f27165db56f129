// /admin/keys: the key lifecycle over HTTP. Handlers validate with the shared schemas,
// call the domain KeyLifecycle, and present records redacted (never digest or plaintext).

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { digestKey } from '../keys/digest';
import { parseKey } from '../keys/key-format';
import { presentKey } from '../keys/record';
import { readUsageGuarded } from '../limits/usage-view';
import { creditsSpec } from '../limits/admission';
import { MAX_COUNT } from '../config/schema';
import { audit } from '../keys/audit';
import { counterIdOf } from '../keys/record';
import { ownerHasLimits } from '../owners/record';
import type { Changed, SyncState } from '../keys/lifecycle';
import { createInput, keyLifecycle, unwrap, updateInput } from './key-lifecycle';
import { issueSigningSecret, signingBox } from './signing-routes';
import {
  ChangedKeySchema,
  CreatedKeySchema,
  DeletedKeySchema,
  CreateKeyBody,
  ADMIN_AUTH_ERRORS,
  errorResponses,
  json,
  ok,
  ExtendBody,
  FindBody,
  KeyIdParam,
  KeyListSchema,
  KeySchema,
  ListQuery,
  RevokeBody,
  RotateBody,
  UpdateKeyBody,
} from './schemas';
import { validationError } from './validation';

/** `marker: "pending"` only when the snapshot or marker is still to be written (keys/sync.ts). */
const pending = (marker: SyncState) => (marker === 'pending' ? { marker } : {});
const changed = (c: Changed) => ({ ...presentKey(c.record), ...pending(c.marker) });
// Responses that carry a plaintext key: never stored by a browser or a proxy.
const NO_STORE = { 'cache-control': 'no-store' } as const;

export const keysApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result, _c) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});

const actionResponses = { 200: ok(ChangedKeySchema, 'The updated key'), ...errorResponses('validation_failed', 'not_found', 'conflict', ...ADMIN_AUTH_ERRORS) };
const keyAction = (path: string, summary: string) =>
  createRoute({ method: 'post', path, summary, tags: ['keys'], request: { params: KeyIdParam }, responses: actionResponses });
const keyActionWithBody = <B extends z.ZodType>(path: string, summary: string, body: B) =>
  createRoute({ method: 'post', path, summary, tags: ['keys'], request: { params: KeyIdParam, body: json(body) }, responses: actionResponses });

keysApp.openapi(
  createRoute({
    method: 'post',
    path: '/keys',
    summary: 'Create a key (the plaintext is returned once)',
    tags: ['keys'],
    request: { body: json(CreateKeyBody) },
    // config_invalid: "signing_secret": true without SECRETS_MASTER_KEY (nothing is created).
    responses: { 201: ok(CreatedKeySchema, 'The new key and its plaintext'), ...errorResponses('validation_failed', 'invalid_json', 'unsupported_media_type', 'conflict', 'config_invalid', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const input = createInput(body, c);
    // The master key is checked before the key exists, so a misconfiguration creates nothing.
    const box = body.signing_secret ? await signingBox(c) : null;
    const { record, plaintext, marker } = unwrap(await keyLifecycle(c).create(input, c.get('actor')));
    const secret = box ? { signing_secret: await issueSigningSecret(c, box, record.id) } : {};
    return c.json({ ...presentKey(record), ...pending(marker), key: plaintext, ...secret }, 201, NO_STORE);
  },
);

keysApp.openapi(
  createRoute({
    method: 'get',
    path: '/keys',
    summary: 'List keys, newest first, with filters and cursor pagination',
    tags: ['keys'],
    request: { query: ListQuery },
    responses: { 200: ok(KeyListSchema, 'A page of keys'), ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const now = Date.now();
    const rows = await keyLifecycle(c).repo.list({ ...q, limit: q.limit + 1 }, now);
    const page = rows.slice(0, q.limit);
    const next = rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null;
    return c.json({ keys: page.map((r) => presentKey(r, now)), next_cursor: next }, 200);
  },
);

keysApp.openapi(
  createRoute({
    method: 'post',
    path: '/keys/find',
    summary: 'Find keys by plaintext (in the body, never the URL) or by display start/end characters',
    tags: ['keys'],
    request: { body: json(FindBody) },
    responses: { 200: ok(KeyListSchema, 'Matching keys'), ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const repo = keyLifecycle(c).repo;
    if (body.key !== undefined) {
      const parsed = parseKey(body.key, c.get('config').prefixes);
      const record = parsed.ok ? await repo.byDigest(digestKey(body.key)) : null;
      return c.json({ keys: record ? [presentKey(record)] : [], next_cursor: null }, 200);
    }
    const records = await repo.byDisplay(body.start, body.end, 100);
    return c.json({ keys: records.map((r) => presentKey(r)), next_cursor: null }, 200);
  },
);

keysApp.openapi(
  createRoute({
    method: 'get',
    path: '/keys/{id}',
    summary: 'Get a key',
    tags: ['keys'],
    request: { params: KeyIdParam },
    responses: { 200: ok(KeySchema, 'The key'), ...errorResponses('validation_failed', 'not_found', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const record = await keyLifecycle(c).get(c.req.valid('param').id);
    if (!record) throw new GatewayError('not_found', 'No key with this id.');
    return c.json(presentKey(record), 200);
  },
);

keysApp.openapi(
  createRoute({
    method: 'patch',
    path: '/keys/{id}',
    summary: 'Update mutable fields (immutable ones are refused)',
    tags: ['keys'],
    request: { params: KeyIdParam, body: json(UpdateKeyBody) },
    responses: { 200: ok(ChangedKeySchema, 'The updated key'), ...errorResponses('validation_failed', 'not_found', 'conflict', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const result = await keyLifecycle(c).update(id, updateInput(c.req.valid('json')), c.get('actor'));
    if (!result.ok && result.code === 'not_found') throw new GatewayError('not_found', 'No key with this id.');
    return c.json(changed(unwrap(result)), 200);
  },
);

keysApp.openapi(
  createRoute({
    method: 'delete',
    path: '/keys/{id}',
    summary: 'Delete a key (refused at once everywhere)',
    tags: ['keys'],
    request: { params: KeyIdParam },
    responses: { 200: ok(DeletedKeySchema, 'Deleted'), ...errorResponses('validation_failed', 'not_found', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const { record, marker } = unwrap(await keyLifecycle(c).delete(c.req.valid('param').id, c.get('actor')));
    return c.json({ id: record.id, deleted: true as const, ...pending(marker) }, 200);
  },
);

keysApp.openapi(keyActionWithBody('/keys/{id}/revoke', 'Revoke a key with a reason (final)', RevokeBody), async (c) => {
  const { id } = c.req.valid('param');
  const { reason } = c.req.valid('json');
  return c.json(changed(unwrap(await keyLifecycle(c).revoke(id, reason, c.get('actor')))), 200);
});

keysApp.openapi(keyAction('/keys/{id}/activate', 'Activate a deactivated key'), async (c) => {
  return c.json(changed(unwrap(await keyLifecycle(c).setActive(c.req.valid('param').id, true, c.get('actor')))), 200);
});

keysApp.openapi(keyAction('/keys/{id}/deactivate', 'Deactivate a key (reversible)'), async (c) => {
  return c.json(changed(unwrap(await keyLifecycle(c).setActive(c.req.valid('param').id, false, c.get('actor')))), 200);
});

keysApp.openapi(keyActionWithBody('/keys/{id}/extend', 'Set a new expiry (or none)', ExtendBody), async (c) => {
  const body = c.req.valid('json');
  const now = Date.now();
  const expiresAt = body.ttl_seconds !== undefined ? now + body.ttl_seconds * 1000 : body.expires_at ? Date.parse(body.expires_at) : null;
  if (expiresAt !== null && expiresAt <= now) {
    throw new GatewayError('validation_failed', undefined, { details: [{ path: 'expires_at', message: 'must be in the future' }] });
  }
  return c.json(changed(unwrap(await keyLifecycle(c).extend(c.req.valid('param').id, expiresAt, c.get('actor')))), 200);
});

const UsageSchema = z
  .object({
    key_id: z.string(),
    store: z.enum(['upstash', 'durable_object']),
    windows: z.array(
      z.object({ name: z.string(), kind: z.string(), limit: z.number(), used: z.number(), remaining: z.number(), window_seconds: z.number(), reset: z.string() }),
    ),
    budget: z.object({ usd: z.number(), period: z.string(), spent_usd: z.number(), remaining_usd: z.number(), reset: z.string().nullable() }).nullable(),
    credits: z.object({ remaining: z.number(), refill_at: z.string().nullable() }).nullable().optional(),
  })
  .openapi('Usage');

const CreditsBody = z
  .union([z.object({ add: z.number().int().min(1).max(MAX_COUNT) }).strict(), z.object({ set: z.number().int().min(0).max(MAX_COUNT) }).strict()])
  .openapi('CreditsChange');

keysApp.openapi(
  createRoute({
    method: 'post',
    path: '/keys/{id}/credits',
    summary: "Add to or set a key's credit balance",
    tags: ['keys'],
    request: { params: KeyIdParam, body: json(CreditsBody) },
    responses: {
      200: ok(z.object({ key_id: z.string(), remaining: z.number(), refill_at: z.string().nullable() }), 'The balance after the change'),
      ...errorResponses('validation_failed', 'invalid_json', 'unsupported_media_type', 'not_found', 'conflict', 'store_unavailable', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const record = await keyLifecycle(c).get(c.req.valid('param').id);
    if (!record) throw new GatewayError('not_found', 'No key with this id.');
    if (!record.policy.credits) throw new GatewayError('conflict', 'This key has no credits; set `credits` on it first.');
    const services = c.get('services');
    const now = Date.now();
    const spec = creditsSpec(record.policy.credits, 0, now)!;
    const owner = record.owner === null ? null : await services.owners.lookup(record.owner);
    const ownerShard = owner !== null && ownerHasLimits(owner.policy) ? owner.owner : undefined;
    const body = c.req.valid('json');
    const guarded = await services.guard.run('usage', services.timeouts.usage, () => services.limits.changeCredits(counterIdOf(record), spec, body, ownerShard));
    if (!guarded.ok) throw new GatewayError('store_unavailable', 'The limit store is unavailable.');
    await audit(c.env.DB, { at: now, actor: c.get('actor'), action: 'credits', key_id: record.id, changes: ['add' in body ? 'credits:add' : 'credits:set'] });
    const state = guarded.value;
    return c.json({ key_id: record.id, remaining: state.remaining, refill_at: state.refillAt === null ? null : new Date(state.refillAt).toISOString() }, 200);
  },
);

keysApp.openapi(
  createRoute({
    method: 'get',
    path: '/keys/{id}/usage',
    summary: "A key's windows (limit, used, remaining, reset) and budget",
    tags: ['keys'],
    request: { params: KeyIdParam },
    responses: { 200: ok(UsageSchema, 'Usage'), ...errorResponses('validation_failed', 'not_found', 'store_unavailable', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const record = await keyLifecycle(c).get(c.req.valid('param').id);
    if (!record) throw new GatewayError('not_found', 'No key with this id.');
    const services = c.get('services');
    const usage = await readUsageGuarded(services, c.get('config'), record);
    if (!usage) throw new GatewayError('store_unavailable', 'The limit store is unavailable.');
    return c.json(usage, 200);
  },
);

keysApp.openapi(
  createRoute({
    method: 'post',
    path: '/keys/{id}/rotate',
    summary: 'Issue a new key with the same settings; the old one works until grace_seconds pass',
    description: 'Send an Idempotency-Key header to make retries safe: a retry returns the first result and never issues a second key.',
    tags: ['keys'],
    request: {
      params: KeyIdParam,
      body: json(RotateBody),
      headers: z.object({ 'idempotency-key': z.string().min(8).max(200).optional() }),
    },
    responses: {
      200: ok(CreatedKeySchema.extend({ previous: KeySchema, replayed: z.boolean() }), 'The new key (plaintext once), the old key, and whether this is a replay; marker covers both keys'),
      // config_invalid: the key has a signing secret and SECRETS_MASTER_KEY is unset (its successor could not sign).
      ...errorResponses('validation_failed', 'not_found', 'conflict', 'config_invalid', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const { grace_seconds } = c.req.valid('json');
    const idem = c.req.valid('header')['idempotency-key'];
    const out = unwrap(await keyLifecycle(c).rotate(id, grace_seconds, c.get('actor'), idem, () => signingBox(c)));
    const secret = out.signingSecret ? { signing_secret: out.signingSecret } : {};
    return c.json({ ...presentKey(out.record), ...pending(out.marker), key: out.plaintext, ...secret, previous: presentKey(out.previous), replayed: out.replayed }, 200, NO_STORE);
  },
);
