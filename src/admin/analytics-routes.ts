// GET /admin/keys/{id}/analytics and GET /admin/analytics: time series from the hourly
// rollups (requests, errors, rate-limited, tokens, cost, p50/p99 latency) and the top keys.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { series, topKeys } from '../events/log-store';
import { DAY_MS, dayOf, HOUR_MS, hourOf } from '../events/rollups';
import { isoTime } from './logs-routes';
import { ADMIN_AUTH_ERRORS, errorResponses, KeyIdParam } from './schemas';
import { validationError } from './validation';

export const analyticsApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});

const MAX_POINTS = 2000;

const RangeQuery = z.object({
  since: isoTime.optional().describe('Default: 7 days before until'),
  until: isoTime.optional().describe('Default: now'),
  granularity: z.enum(['hour', 'day']).default('hour'),
});
const OverviewQuery = RangeQuery.extend({
  top: z.coerce.number().int().min(1).max(100).default(10),
  by: z.enum(['requests', 'cost']).default('requests'),
});

const PointSchema = z
  .object({
    t: z.string(),
    requests: z.number().int(),
    errors: z.number().int(),
    rate_limited: z.number().int(),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cost_usd: z.number(),
    p50_ms: z.number().nullable(),
    p99_ms: z.number().nullable(),
  })
  .openapi('AnalyticsPoint');
const SeriesSchema = z.object({ since: z.string(), until: z.string(), granularity: z.enum(['hour', 'day']), series: z.array(PointSchema) }).openapi('Analytics');
const TopSchema = z
  .object({ key_id: z.string(), requests: z.number().int(), errors: z.number().int(), cost_usd: z.number(), input_tokens: z.number().int(), output_tokens: z.number().int() })
  .openapi('TopKey');

/** The range aligned to whole steps: rollups are hourly, days are UTC days. */
function range(q: z.infer<typeof RangeQuery>, now = Date.now()) {
  const step = q.granularity === 'hour' ? HOUR_MS : DAY_MS;
  const align = q.granularity === 'hour' ? hourOf : dayOf;
  const untilRaw = q.until === undefined ? now : Date.parse(q.until);
  const until = align(untilRaw) + step;
  const since = align(q.since === undefined ? untilRaw - 7 * DAY_MS : Date.parse(q.since));
  if (since >= until) throw new GatewayError('validation_failed', undefined, { details: [{ path: 'since', message: 'must be before until' }] });
  if ((until - since) / step > MAX_POINTS) {
    throw new GatewayError('validation_failed', undefined, { details: [{ path: 'since', message: `the range holds more than ${MAX_POINTS} ${q.granularity}s` }] });
  }
  return { since, until, granularity: q.granularity };
}

const present = (r: { since: number; until: number; granularity: 'hour' | 'day' }) => ({ since: new Date(r.since).toISOString(), until: new Date(r.until).toISOString(), granularity: r.granularity });

analyticsApp.openapi(
  createRoute({
    method: 'get',
    path: '/keys/{id}/analytics',
    summary: "One key's requests, errors, tokens, spend and latency over time",
    tags: ['analytics'],
    request: { params: KeyIdParam, query: RangeQuery },
    responses: { 200: { description: 'The time series', content: { 'application/json': { schema: SeriesSchema } } }, ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS) },
  }),
  async (c) => {
    const r = range(c.req.valid('query'));
    return c.json({ ...present(r), series: await series(c.env.DB, { ...r, keyId: c.req.valid('param').id }) }, 200);
  },
);

analyticsApp.openapi(
  createRoute({
    method: 'get',
    path: '/analytics',
    summary: 'All keys over time, and the top keys by requests or cost',
    tags: ['analytics'],
    request: { query: OverviewQuery },
    responses: {
      200: { description: 'The time series and the top keys', content: { 'application/json': { schema: SeriesSchema.extend({ top: z.array(TopSchema) }).openapi('AnalyticsOverview') } } },
      ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const r = range(q);
    const [points, top] = await Promise.all([series(c.env.DB, r), topKeys(c.env.DB, { since: r.since, until: r.until, by: q.by, limit: q.top })]);
    return c.json({ ...present(r), series: points, top }, 200);
  },
);
