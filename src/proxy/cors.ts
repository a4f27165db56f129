// CORS for routes that set `cors`: keygate answers preflights itself (a browser sends them
// without the key, so they could never pass authentication) and puts the CORS headers on
// every response of the route, its own refusals included, so a page can read a 401 or 429.
// The upstream is assumed CORS-unaware: on such a route keygate's policy replaces any
// access-control-* headers the upstream sent.

import type { Cors, Route } from '../config/schema';

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const DEFAULT_ALLOWED_HEADERS = ['authorization', 'content-type', 'x-api-key'];
/** Headers of keygate's own that a page may read on every response of a cors route. */
const KEYGATE_EXPOSED = [
  'x-request-id',
  'x-gateway-request-id',
  'retry-after',
  'ratelimit-policy',
  'ratelimit',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
  'x-budget-limit-usd',
  'x-budget-remaining-usd',
  'x-credits-remaining',
  'x-credits-refill-at',
];
const UPSTREAM_CORS_HEADERS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age'];

export interface CorsPolicy {
  readonly anyOrigin: boolean;
  readonly origins: ReadonlySet<string>;
  readonly methods: ReadonlySet<string>;
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly credentials: boolean;
  readonly maxAge: string;
}

// Per parsed route: routes live as long as the isolate's configuration memo.
const policies = new WeakMap<Cors, CorsPolicy>();

export function corsPolicy(route: Route, cors: Cors): CorsPolicy {
  let policy = policies.get(cors);
  if (!policy) {
    const methods = cors.methods ?? route.methods ?? ALL_METHODS;
    const headers = cors.headers ?? [...new Set([...DEFAULT_ALLOWED_HEADERS, ...route.key_headers])];
    policy = {
      anyOrigin: cors.origins.includes('*'),
      origins: new Set(cors.origins),
      methods: new Set(methods),
      allowMethods: methods.join(', '),
      allowHeaders: headers.join(', '),
      exposeHeaders: [...new Set([...cors.expose_headers, ...KEYGATE_EXPOSED])].join(', '),
      credentials: cors.credentials,
      maxAge: String(cors.max_age),
    };
    policies.set(cors, policy);
  }
  return policy;
}

/** A CORS preflight: OPTIONS naming the method the page wants to use. */
export function isPreflight(method: string, headers: Headers): boolean {
  return method === 'OPTIONS' && headers.has('access-control-request-method');
}

export function originAllowed(policy: CorsPolicy, origin: string | null): origin is string {
  return origin !== null && (policy.anyOrigin || policy.origins.has(origin.toLowerCase()));
}

export type PreflightResult = { ok: true; headers: Record<string, string> } | { ok: false; reason: 'origin' | 'method' };

/** The answer to a preflight from `origin` asking for `requestedMethod`. */
export function answerPreflight(policy: CorsPolicy, origin: string | null, requestedMethod: string): PreflightResult {
  if (!originAllowed(policy, origin)) return { ok: false, reason: 'origin' };
  if (!policy.methods.has(requestedMethod.trim().toUpperCase())) return { ok: false, reason: 'method' };
  const headers: Record<string, string> = Object.create(null);
  headers['access-control-allow-origin'] = origin;
  headers['access-control-allow-methods'] = policy.allowMethods;
  headers['access-control-allow-headers'] = policy.allowHeaders;
  headers['access-control-max-age'] = policy.maxAge;
  if (policy.credentials) headers['access-control-allow-credentials'] = 'true';
  headers.vary = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
  return { ok: true, headers };
}

/** Puts the route's CORS headers on a response (in place), replacing the upstream's. */
export function applyCors(headers: Headers, policy: CorsPolicy, origin: string | null): void {
  for (const name of UPSTREAM_CORS_HEADERS) headers.delete(name);
  headers.append('vary', 'Origin');
  if (!originAllowed(policy, origin)) return;
  // The origin itself, never `*`: the page sends a credential header, which `*` does not cover.
  headers.set('access-control-allow-origin', origin);
  if (policy.credentials) headers.set('access-control-allow-credentials', 'true');
  headers.set('access-control-expose-headers', policy.exposeHeaders);
}
