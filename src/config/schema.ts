// The gateway configuration: [vars] in wrangler.toml (ROUTES, KEY_PREFIX, PRICES, ...).
// Parsed with zod once per isolate; types derive from these schemas. Every field is
// documented in README.md ("Configuration reference").

import { z } from 'zod';
import { PREFIX_RE } from '../keys/key-format';
import { MAX_TOKENS } from '../usage/fields';
import { FORMAT_NAMES } from '../usage/formats';
import { isValidPattern } from '../usage/path-pattern';

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
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.ROUTES.forEach((r, i) => {
      // Token windows are charged from metered usage: on a route without metering a tpm/tpd
      // model limit would never bind. Request counts (rpm/rpd) bind on every route.
      if (!r.metering) {
        for (const [model, l] of Object.entries(r.model_limits ?? {})) {
          if (l.tpm !== undefined || l.tpd !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'model_limits', model], message: 'tpm/tpd need metering on this route (set metering, or keep only rpm/rpd)' });
          }
        }
      }
      if (seen.has(r.path)) ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'path'], message: `duplicate route path ${r.path}` });
      seen.add(r.path);
      if (r.path === '/admin' || r.path.startsWith('/admin/') || r.path === '/_keygate' || r.path.startsWith('/_keygate/')) {
        ctx.addIssue({ code: 'custom', path: ['ROUTES', i, 'path'], message: 'is reserved for keygate itself' });
      }
    });
  });
export type Config = z.infer<typeof ConfigSchema>;
