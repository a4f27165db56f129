// /admin/owners: owners as limit holders. An owner's limits, model limits and budget are
// shared by every key whose `owner` names it, counted beside each key's own in the same store
// call. D1 is the system of record; every change writes the KV snapshot the proxy reads.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { BudgetSchema, LimitsSchema, MaxConcurrentSchema, ModelLimitsSchema, ModelsSchema } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { auditStatement } from '../keys/audit';
import { readOwnerUsage } from '../limits/usage-view';
import type { OwnerPolicy, OwnerRecord } from '../owners/record';
import { presentOwner } from '../owners/record';
import { ADMIN_AUTH_ERRORS, errorResponses, ok, Owner } from './schemas';
import { validationError } from './validation';

const MAX_MODEL_LIMITS = 100;

export const ownersApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});

const OwnerParam = z.object({ owner: Owner.openapi({ param: { name: 'owner', in: 'path' } }) });

const PutOwnerBody = z
  .object({
    limits: LimitsSchema.nullable().optional(),
    model_limits: ModelLimitsSchema.refine((m) => Object.keys(m).length <= MAX_MODEL_LIMITS, `must have at most ${MAX_MODEL_LIMITS} models`).nullable().optional(),
    budget: BudgetSchema.nullable().optional(),
    models: ModelsSchema.nullable().optional(),
    max_concurrent: MaxConcurrentSchema.nullable().optional(),
  })
  .strict()
  .openapi('PutOwner');

const OwnerSchema = z
  .object({
    owner: z.string(),
    limits: LimitsSchema.nullable(),
    model_limits: ModelLimitsSchema.nullable(),
    budget: BudgetSchema.nullable(),
    models: z.array(z.string()),
    max_concurrent: z.number().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Owner');

const OwnerUsageSchema = z
  .object({
    owner: z.string(),
    store: z.enum(['upstash', 'durable_object']),
    windows: z.array(z.object({ name: z.string(), kind: z.string(), limit: z.number(), used: z.number(), remaining: z.number(), window_seconds: z.number(), reset: z.string() })),
    budget: z.object({ usd: z.number(), period: z.string(), spent_usd: z.number(), remaining_usd: z.number(), reset: z.string().nullable() }).nullable(),
  })
  .openapi('OwnerUsage');

async function ownerOr404(c: { get: (k: 'services') => AppEnv['Variables']['services'] }, owner: string): Promise<OwnerRecord> {
  const record = await c.get('services').owners.repo.get(owner);
  if (!record) throw new GatewayError('not_found', 'No owner with this name.');
  return record;
}

/**
 * Writes the KV snapshot after the D1 commit; the change stands, and a retry of the request
 * writes it again (a DELETE retry too: it removes the snapshot even though the row is gone).
 */
async function writeThrough(done: 'saved' | 'deleted', write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch {
    throw new GatewayError('store_unavailable', `The owner was ${done}, but its snapshot could not be written; repeat the request.`, { headers: { 'retry-after': '1' } });
  }
}

ownersApp.openapi(
  createRoute({
    method: 'put',
    path: '/owners/{owner}',
    summary: "Create or replace an owner's limits, model limits, budget and model allowlist (shared by all of its keys)",
    tags: ['owners'],
    request: { params: OwnerParam, body: { content: { 'application/json': { schema: PutOwnerBody } }, required: true } },
    responses: { 200: ok(OwnerSchema, 'The owner'), ...errorResponses('validation_failed', 'invalid_json', 'unsupported_media_type', 'store_unavailable', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const { owner } = c.req.valid('param');
    const body = c.req.valid('json');
    const policy: OwnerPolicy = {};
    if (body.limits) policy.limits = body.limits;
    if (body.model_limits) policy.model_limits = body.model_limits;
    if (body.budget) policy.budget = body.budget;
    if (body.models?.length) policy.models = [...new Set(body.models)];
    if (body.max_concurrent) policy.max_concurrent = body.max_concurrent;
    const now = Date.now();
    const owners = c.get('services').owners;
    const changes = Object.keys(policy).map((k) => `${k}`);
    const record = await owners.repo.put(owner, policy, now, auditStatement(c.env.DB, { at: now, actor: c.get('actor'), action: 'owner_put', key_id: null, changes: [`owner:${owner}`, ...changes] }));
    await writeThrough('saved', () => owners.writeSnapshot(record));
    return c.json(presentOwner(record), 200);
  },
);

ownersApp.openapi(
  createRoute({
    method: 'get',
    path: '/owners',
    summary: 'List owners with a policy, by name',
    tags: ['owners'],
    request: { query: z.object({ cursor: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }) },
    responses: { 200: ok(z.object({ owners: z.array(OwnerSchema), next_cursor: z.string().nullable() }), 'A page of owners'), ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const rows = await c.get('services').owners.repo.list(q.cursor, q.limit + 1);
    const page = rows.slice(0, q.limit);
    return c.json({ owners: page.map(presentOwner), next_cursor: rows.length > q.limit ? (page[page.length - 1]?.owner ?? null) : null }, 200);
  },
);

ownersApp.openapi(
  createRoute({
    method: 'get',
    path: '/owners/{owner}',
    summary: "An owner's policy",
    tags: ['owners'],
    request: { params: OwnerParam },
    responses: { 200: ok(OwnerSchema, 'The owner'), ...errorResponses('validation_failed', 'not_found', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => c.json(presentOwner(await ownerOr404(c, c.req.valid('param').owner)), 200),
);

ownersApp.openapi(
  createRoute({
    method: 'delete',
    path: '/owners/{owner}',
    summary: "Delete an owner's policy (its keys keep their own limits)",
    tags: ['owners'],
    request: { params: OwnerParam },
    responses: { 200: ok(z.object({ owner: z.string(), deleted: z.literal(true) }), 'Deleted'), ...errorResponses('validation_failed', 'not_found', 'store_unavailable', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const { owner } = c.req.valid('param');
    const owners = c.get('services').owners;
    const now = Date.now();
    const deleted = await owners.repo.delete(owner, (when) => auditStatement(c.env.DB, { at: now, actor: c.get('actor'), action: 'owner_delete', key_id: null, changes: [`owner:${owner}`] }, when));
    // KV is the proxy's truth for owners: the snapshot goes whether or not a row did, so a
    // retry after a failed KV delete (the row already gone) still stops the old policy.
    await writeThrough('deleted', () => owners.removeSnapshot(owner));
    if (!deleted) throw new GatewayError('not_found', 'No owner with this name.');
    return c.json({ owner, deleted: true as const }, 200);
  },
);

ownersApp.openapi(
  createRoute({
    method: 'get',
    path: '/owners/{owner}/usage',
    summary: "An owner's windows (limit, used, remaining, reset) and budget",
    tags: ['owners'],
    request: { params: OwnerParam },
    responses: { 200: ok(OwnerUsageSchema, 'Usage'), ...errorResponses('validation_failed', 'not_found', 'store_unavailable', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const record = await ownerOr404(c, c.req.valid('param').owner);
    const services = c.get('services');
    const guarded = await services.guard.run('usage', services.timeouts.usage, () => readOwnerUsage(services.limits, record));
    if (!guarded.ok) throw new GatewayError('store_unavailable', 'The limit store is unavailable.');
    return c.json(guarded.value, 200);
  },
);
