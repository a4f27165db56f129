// The gateway configuration: [vars] in wrangler.toml (ROUTES, KEY_PREFIX, PRICES, ...).
// Parsed with zod once per isolate; types derive from these schemas. Every field is
// documented in README.md ("Configuration reference").

import { z } from 'zod';
import { PREFIX_RE } from '../keys/key-format';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const HttpMethod = z.enum(METHODS);
export type HttpMethod = z.infer<typeof HttpMethod>;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headerName = z.string().regex(HEADER_NAME, 'must be an HTTP header name').transform((s) => s.toLowerCase());
export const ScopeName = z.string().regex(/^[a-z0-9][a-z0-9:._-]{0,63}$/, 'must be 1-64 chars of a-z 0-9 : . _ -');

const count = z.number().int('must be an integer').nonnegative('must be >= 0');

export const LimitsSchema = z
  .object({ rpm: count, rpd: count, tpm: count, tpd: count })
  .partial()
  .strict();
export type Limits = z.infer<typeof LimitsSchema>;

export const BudgetSchema = z
  .object({ usd: z.number().nonnegative('must be >= 0').finite(), period: z.enum(['day', 'month', 'total']) })
  .strict();
export type Budget = z.infer<typeof BudgetSchema>;

export const ModelLimitsSchema = z.record(z.string().min(1).max(200), LimitsSchema);

const PriceSchema = z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() }).strict();
export type Price = z.infer<typeof PriceSchema>;

const MeteringSchema = z
  .object({
    // auto: Anthropic for paths ending in /messages, OpenAI-compatible otherwise.
    format: z.enum(['auto', 'openai', 'anthropic', 'header']).default('auto'),
    header: headerName.optional(),
    include_usage: z.boolean().default(true),
    default_reservation: count.default(1024),
    max_body_bytes: z.number().int().positive().max(100 * 1024 * 1024).default(1024 * 1024),
  })
  .strict()
  .refine((m) => m.format !== 'header' || m.header !== undefined, { message: 'header is required when format is "header"', path: ['header'] });

const OnStoreError = z.enum(['open', 'closed']);

function tryUrl(u: string): URL | null {
  try {
    return new URL(u);
  } catch {
    return null;
  }
}

const upstreamUrl = z
  .string()
  .url('must be an absolute URL')
  // zod keeps running refinements after .url() fails, so each one guards its own parse.
  .refine((u) => /^https?:$/.test(tryUrl(u)?.protocol ?? ''), 'must be http or https')
  .refine((u) => { const url = tryUrl(u); return url !== null && !url.search && !url.hash; }, 'must not have a query or fragment')
  .transform((u) => u.replace(/\/+$/, ''));

export const RouteSchema = z
  .object({
    path: z
      .string()
      .regex(/^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]+(?:\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*)?$/, 'must start with "/", have no empty segments and no trailing "/"')
      .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain "." or ".." segments'),
    upstream: upstreamUrl,
    strip_prefix: z.boolean().default(true),
    methods: z.array(HttpMethod).nonempty().optional(),
    scopes: z.array(ScopeName).optional(),
    key_headers: z.array(headerName).default([]),
    key_query_param: z.string().min(1).max(64).optional(),
    upstream_auth: z
      .object({ header: headerName, secret: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be a secret name like OPENAI_API_KEY'), prefix: z.string().default('') })
      .strict()
      .optional(),
    timeout_ms: z.number().int().min(1).max(600_000).default(30_000),
    limits: LimitsSchema.optional(),
    model_limits: ModelLimitsSchema.optional(),
    budget: BudgetSchema.optional(),
    metering: MeteringSchema.optional(),
    instant_revocation: z.boolean().default(true),
    on_store_error: z
      .object({ requests: OnStoreError.default('open'), budget: OnStoreError.default('closed') })
      .strict()
      .default({ requests: 'open', budget: 'closed' }),
  })
  .strict();
export type Route = z.infer<typeof RouteSchema>;

export const ConfigSchema = z
  .object({
    KEY_PREFIX: z.string().regex(PREFIX_RE, 'must be lower-case words joined by "_", e.g. kg_live').default('kg_live'),
    KEY_PREFIXES: z.array(z.string().regex(PREFIX_RE, 'must be lower-case words joined by "_"')).optional(),
    ROUTES: z.array(RouteSchema).default([]),
    PRICES: z.record(z.string(), PriceSchema).default({}),
    DEFAULT_PRICE: PriceSchema.default({ input: 10, output: 30 }),
    KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(10_000),
    STORE_TIMEOUT_MS: z.coerce.number().int().min(1).max(10_000).default(250),
    MAX_KEYS_PER_OWNER: z.coerce.number().int().min(0).optional(),
    // Request log and webhooks (src/events, src/webhooks): read by the queue consumer, the cron and /admin.
    LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    ROLLUP_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
    WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
    WEBHOOKS_ALLOW_PRIVATE: z
      .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
      .transform((v) => v === true || v === 'true' || v === '1')
      .default(false),
    BUDGET_ALERT_THRESHOLD: z.coerce.number().gt(0).lt(1).default(0.8),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.ROUTES.forEach((r, i) => {
      if (seen.has(r.path)) ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'path'], message: `duplicate route path ${r.path}` });
      seen.add(r.path);
      if (r.path === '/admin' || r.path.startsWith('/admin/') || r.path === '/_keygate' || r.path.startsWith('/_keygate/')) {
        ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'path'], message: 'is reserved for keygate itself' });
      }
    });
  });
export type Config = z.infer<typeof ConfigSchema>;
