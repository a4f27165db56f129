// The /admin sub-application: admin authentication in front of every route, the key
// routes, the audit log, and the OpenAPI document generated from the same schemas.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../context';
import { listAudit } from '../keys/audit';
import { notFound, onError } from '../http/errors';
import { requestContext } from '../http/request-context';
import { adminAuth } from '../http/admin-auth';
import { enqueue } from '../events/emit';
import { analyticsApp } from './analytics-routes';
import { keysApp } from './keys-routes';
import { logsApp } from './logs-routes';
import { ownersApp } from './owners-routes';
import { signingApp } from './signing-routes';
import { webhooksApp } from './webhooks-routes';
import { verifyApp } from './verify-routes';
import { ADMIN_AUTH_ERRORS, errorResponses } from './schemas';
import { adminUi } from './ui-route';
import { validationError } from './validation';

export const adminApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});

adminApp.openAPIRegistry.registerComponent('securitySchemes', 'adminBearer', {
  type: 'http',
  scheme: 'bearer',
  description: 'ADMIN_TOKEN, or an API key with the admin scope',
});

// Mounted at /admin by src/app.ts, as an app of its own: request context and error handlers
// here too. The web page and the OpenAPI document are public (the page signs in inside
// itself; the document holds no secrets), so they come before adminAuth. The document is
// generated per request from every route registered, including those registered below.
adminApp.use('*', requestContext());
adminApp.get('/ui', adminUi);
adminApp.doc31('/openapi.json', {
  openapi: '3.1.0',
  // Paths below are relative to /admin, where this sub-application is mounted.
  servers: [{ url: '/admin' }],
  info: { title: 'keygate admin API', version: '0.1.0', description: 'Manage API keys. Every error uses the one error shape.' },
  security: [{ adminBearer: [] }],
});
adminApp.use('*', adminAuth());
// After a successful key change, key.* webhooks are derived from the audit log by the queue
// consumer (the cron re-reads the same entries, so a lost job loses nothing).
adminApp.use('/keys/*', async (c, next) => {
  await next();
  if (c.req.method !== 'GET' && c.res.status < 300) c.executionCtx.waitUntil(enqueue(c.env.EVENTS, { kind: 'dispatch' }));
});
adminApp.use('/keys', async (c, next) => {
  await next();
  if (c.req.method === 'POST' && c.res.status < 300) c.executionCtx.waitUntil(enqueue(c.env.EVENTS, { kind: 'dispatch' }));
});
adminApp.route('/', keysApp);
adminApp.route('/', signingApp);
adminApp.route('/', verifyApp);
adminApp.route('/', ownersApp);
adminApp.route('/', logsApp);
adminApp.route('/', analyticsApp);
adminApp.route('/', webhooksApp);

const AuditEntrySchema = z
  .object({ id: z.string(), at: z.string(), actor: z.string(), action: z.string(), key_id: z.string().nullable(), changes: z.array(z.string()) })
  .openapi('AuditEntry');

adminApp.openapi(
  createRoute({
    method: 'get',
    path: '/audit',
    summary: 'Admin changes, newest first',
    tags: ['audit'],
    request: {
      query: z.object({
        key_id: z.string().optional(),
        cursor: z.string().optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
      }),
    },
    responses: {
      200: { description: 'A page of audit entries', content: { 'application/json': { schema: z.object({ entries: z.array(AuditEntrySchema), next_cursor: z.string().nullable() }) } } },
      ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const rows = await listAudit(c.env.DB, { keyId: q.key_id, cursor: q.cursor, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    return c.json(
      {
        entries: page.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
        next_cursor: rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null,
      },
      200,
    );
  },
);

adminApp.onError(onError);
adminApp.notFound(notFound);
