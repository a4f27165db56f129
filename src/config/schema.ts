// The gateway configuration: [vars] in wrangler.toml (ROUTES, KEY_PREFIX, PRICES, ...).
// Parsed with zod once per isolate; types derive from these schemas. Every field is
// documented in README.md ("Configuration reference").

import { z } from 'zod';
import { PREFIX_RE } from '../keys/key-format';
import { modelKeyProblem } from '../limits/model-match';
import { MAX_TOKENS } from '../usage/fields';
import { FORMAT_NAMES } from '../usage/formats';
import { isValidPattern } from '../usage/path-pattern';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const HttpMethod = z.enum(METHODS);
export type HttpMethod = z.infer<typeof HttpMethod>;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headerName = z.string().regex(HEADER_NAME, 'must be an HTTP header name').transform((s) => s.toLowerCase());
export const ScopeName = z.string().regex(/^[a-z0-9][a-z0-9:._-]{0,63}$/, 'must be 1-64 chars of a-z 0-9 : . _ -');

// Upper bounds that the limit arithmetic can hold exactly: counters and micro-USD are
// integers in JavaScript numbers (exact below 2^53 ~ 9.007e15) and in Redis/SQLite
// integers. A window of 1e12 tokens, or a budget of 1e9 USD (1e15 micro-USD), still
// leaves room for a period's worth of charges on top.
export const MAX_COUNT = 1_000_000_000_000;
export const MAX_BUDGET_USD = 1_000_000_000;
export const MAX_PRICE_USD_PER_MTOK = 1_000_000;

const count = z.number().int('must be an integer').nonnegative('must be >= 0').max(MAX_COUNT, `must be <= ${MAX_COUNT}`);

export const MAX_CREDIT_COST = 1_000_000;
export const MAX_REVOCATION_STALENESS_MS = 60_000;

export const MAX_CONCURRENT = 100_000;
/** In-flight requests a key or an owner may have at once. */
export const MaxConcurrentSchema = z.number().int('must be an integer').min(1, 'must be >= 1').max(MAX_CONCURRENT, `must be <= ${MAX_CONCURRENT}`);

/** Prepaid credits on a key: each admitted request costs the route's `cost`. */
export const CreditsSchema = z
  .object({
    remaining: count,
    refill: z.object({ amount: count, interval: z.enum(['day', 'month']) }).strict().optional(),
  })
  .strict();
export type Credits = z.infer<typeof CreditsSchema>;

export const LimitsSchema = z
  .object({ rpm: count, rpd: count, tpm: count, tpd: count })
  .partial()
  .strict();
export type Limits = z.infer<typeof LimitsSchema>;

export const BudgetSchema = z
  .object({
    usd: z.number().nonnegative('must be >= 0').max(MAX_BUDGET_USD, `must be <= ${MAX_BUDGET_USD}`),
    period: z.enum(['day', 'month', 'total']),
  })
  .strict();
export type Budget = z.infer<typeof BudgetSchema>;

/** A model name in PRICES or model_limits: normalised, optionally one trailing `*` (src/limits/model-match.ts). */
const ModelKey = z.string().superRefine((key, ctx) => {
  const problem = modelKeyProblem(key);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `model name ${JSON.stringify(key.slice(0, 60))} ${problem}` });
});

export const ModelLimitsSchema = z.record(ModelKey, LimitsSchema);

export const MAX_MODELS = 100;
/** A model allowlist: names or `*` families, as in PRICES; empty allows every model. */
export const ModelsSchema = z.array(ModelKey).max(MAX_MODELS, `must have at most ${MAX_MODELS} models`);

const price = z.number().nonnegative('must be >= 0').max(MAX_PRICE_USD_PER_MTOK, `must be <= ${MAX_PRICE_USD_PER_MTOK}`);
const PriceSchema = z.object({ input: price, output: price }).strict();
export type Price = z.infer<typeof PriceSchema>;

const METERING_FORMATS = ['auto', 'openai', 'anthropic', ...FORMAT_NAMES] as [string, ...string[]];

export const MeteringSchema = z
  .object({
    // auto: the format is chosen per endpoint (src/usage/formats/); openai / anthropic: that
    // family's endpoints; or one format's name, e.g. "openai-responses".
    format: z.enum(METERING_FORMATS).default('auto'),
    header: headerName.optional(),
    // Sub-path patterns that may be metered (src/usage/path-pattern.ts); default: the endpoints
    // of the selected formats. Other paths are handled by `unknown`.
    paths: z.array(z.string().max(200).refine(isValidPattern, 'must be a path pattern like "/v1/chat/completions" or "/**/embeddings"')).max(100).optional(),
    unknown: z.enum(['refuse', 'reserve']).default('refuse'),
    include_usage: z.boolean().default(true),
    default_reservation: count.default(1024),
    // Output tokens charged when usage cannot be read and the request set no maximum.
    max_reservation: count.max(MAX_TOKENS).default(32_768),
    max_body_bytes: z.number().int().positive().max(100 * 1024 * 1024).default(1024 * 1024),
  })
  .strict()
  .refine((m) => m.format !== 'header' || m.header !== undefined, { message: 'header is required when format is "header"', path: ['header'] });
export type Metering = z.infer<typeof MeteringSchema>;

const OnStoreError = z.enum(['open', 'closed']);

// An origin as browsers send it: scheme, host, optional port; no path, no trailing slash.
const CorsOrigin = z
  .string()
  .regex(/^(?:\*|https?:\/\/(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?)$/, 'must be an origin like "https://app.example.com" (no path) or "*"')
  .transform((s) => s.toLowerCase());

const CorsSchema = z
  .object({
    origins: z.array(CorsOrigin).nonempty(),
    // Default: the route's methods, or every method keygate routes.
    methods: z.array(HttpMethod).nonempty().optional(),
    // Default: authorization, content-type, x-api-key and the route's key_headers.
    headers: z.array(headerName).optional(),
    expose_headers: z.array(headerName).default([]),
    credentials: z.boolean().default(false),
    max_age: z.number().int().min(0).max(86_400).default(600),
  })
  .strict()
  .refine((c) => !(c.credentials && c.origins.includes('*')), { message: 'credentials cannot be combined with the "*" origin', path: ['credentials'] });
export type Cors = z.infer<typeof CorsSchema>;

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
    /** Routes whose requests need the store only for the revocation marker: read it at most once per this many ms per key and isolate (0: every request). */
    revocation_max_staleness_ms: z.number().int('must be an integer').min(0, 'must be >= 0').max(MAX_REVOCATION_STALENESS_MS, `must be <= ${MAX_REVOCATION_STALENESS_MS}`).default(1000),
    /** Credits each admitted request costs a key with `credits`. */
    cost: z.number().int('must be an integer').nonnegative('must be >= 0').max(MAX_CREDIT_COST, `must be <= ${MAX_CREDIT_COST}`).default(1),
    cors: CorsSchema.optional(),
    // Without cors, a preflight needs a key like any request ("key") or goes to the upstream
    // unauthenticated ("upstream").
    preflight: z.enum(['key', 'upstream']).default('key'),
    allow_service_worker: z.boolean().default(false),
    // Which credentials the route accepts: the key itself and/or a signed request
    // (`Authorization: JWT`, for keys with a signing secret).
    auth: z.array(z.enum(['key', 'signed'])).nonempty().default(['key', 'signed']),
    // Send a signed identity token (x-gateway-identity) to the upstream.
    identity_jwt: z.boolean().default(false),
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
    PRICES: z.record(ModelKey, PriceSchema).default({}),
    DEFAULT_PRICE: PriceSchema.default({ input: 10, output: 30 }),
    KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(10_000),
    STORE_TIMEOUT_MS: z.coerce.number().int().min(1).max(10_000).default(250),
    // Group commit (src/limits/group-commit.ts): most admissions of one shard in one store call; 1 turns it off.
    STORE_BATCH_MAX: z.coerce.number().int().min(1).max(256).default(32),
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
    // `iss` of x-gateway-identity tokens; default: the gateway's URL (src/identity/).
    IDENTITY_ISSUER: z.string().url().optional(),
    // Admin sign-in through an identity provider (src/admin/idp-auth.ts): on when all three are set.
    ADMIN_JWT_ISSUER: z.string().min(1).optional(),
    ADMIN_JWT_AUDIENCE: z.string().min(1).optional(),
    ADMIN_JWKS_URL: z.string().url().refine((u) => /^https?:/.test(u), 'must be http or https').optional(),
    ADMIN_JWT_ROLES_CLAIM: z.string().min(1).max(200).default('roles'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.ROUTES.forEach((r, i) => {
      if (seen.has(r.path)) ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'path'], message: `duplicate route path ${r.path}` });
      seen.add(r.path);
      if (r.path === '/admin' || r.path.startsWith('/admin/') || r.path === '/_keygate' || r.path.startsWith('/_keygate/')) {
        ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'path'], message: 'is reserved for keygate itself' });
      }
      if (r.cors && r.preflight === 'upstream') {
        ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'preflight'], message: 'cannot be "upstream" on a route with cors (keygate answers its preflights)' });
      }
    });
  });
export type Config = z.infer<typeof ConfigSchema>;
