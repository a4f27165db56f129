// GET /admin/logs and GET /admin/keys/{id}/logs: the request log, newest first, filtered,
// with cursor pagination. Rows carry no key material (see src/events/messages.ts).

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../context';
import { listLogs, type LogRow } from '../events/log-store';
import { ADMIN_AUTH_ERRORS, errorResponses, KeyIdParam } from './schemas';
import { validationError } from './validation';

export const logsApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});

export const isoTime = z.string().datetime({ offset: true, message: 'must be an ISO 8601 date-time' });

const LogQuery = z.object({
  status: z.coerce.number().int().min(100).max(599).optional(),
  outcome: z.string().regex(/^[a-z_]{1,64}$/, 'must be ok or an error code').optional(),
  route: z.string().min(1).max(200).optional(),
  owner: z.string().min(1).max(200).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  cursor: z.string().regex(/^log_[0-9A-Z]{26}$/, 'must be a cursor returned by a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const LogEntrySchema = z
  .object({
    id: z.string(),
    at: z.string(),
    request_id: z.string(),
    key_id: z.string(),
    owner: z.string().nullable(),
    route: z.string().nullable(),
    method: z.string(),
    path: z.string(),
    status: z.number().int(),
    outcome: z.string(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    referer: z.string().nullable(),
    latency_ms: z.object({ key: z.number().nullable(), store: z.number().nullable(), upstream: z.number().nullable(), total: z.number().nullable() }),
    model: z.string().nullable(),
    input_tokens: z.number().int().nullable(),
    output_tokens: z.number().int().nullable(),
    cost_usd: z.number().nullable(),
    store: z.string().nullable(),
  })
  .openapi('LogEntry');
const LogPageSchema = z.object({ entries: z.array(LogEntrySchema), next_cursor: z.string().nullable() }).openapi('LogPage');

function present(r: LogRow) {
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    request_id: r.request_id,
    key_id: r.key_id,
    owner: r.owner,
    route: r.route,
    method: r.method,
    path: r.path,
    status: r.status,
    outcome: r.outcome,
    ip: r.ip,
    user_agent: r.user_agent,
    referer: r.referer,
    latency_ms: { key: r.key_ms, store: r.store_ms, upstream: r.upstream_ms, total: r.total_ms },
    model: r.model,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cost_usd: r.cost_micros === null ? null : r.cost_micros / 1e6,
    store: r.store,
  };
}

async function page(db: D1Database, q: z.infer<typeof LogQuery>, keyId?: string) {
  const rows = await listLogs(db, {
    keyId,
    status: q.status,
    outcome: q.outcome,
    route: q.route,
    owner: q.owner,
    since: q.since === undefined ? undefined : Date.parse(q.since),
    until: q.until === undefined ? undefined : Date.parse(q.until),
    cursor: q.cursor,
    limit: q.limit + 1,
  });
  const entries = rows.slice(0, q.limit);
  return { entries: entries.map(present), next_cursor: rows.length > q.limit ? (entries[entries.length - 1]?.id ?? null) : null };
}

const responses = {
  200: { description: 'A page of request log entries, newest first', content: { 'application/json': { schema: LogPageSchema } } },
  ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS),
};

logsApp.openapi(
  createRoute({ method: 'get', path: '/logs', summary: 'Request log of every key, newest first', tags: ['logs'], request: { query: LogQuery }, responses }),
  async (c) => c.json(await page(c.env.DB, c.req.valid('query')), 200),
);

logsApp.openapi(
  createRoute({ method: 'get', path: '/keys/{id}/logs', summary: "One key's request log, newest first", tags: ['logs'], request: { params: KeyIdParam, query: LogQuery }, responses }),
  async (c) => c.json(await page(c.env.DB, c.req.valid('query'), c.req.valid('param').id), 200),
);
