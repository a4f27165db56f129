// Loads the configuration from env once per isolate and reports the first bad field.

import { z } from 'zod';
import { ModelTable } from '../limits/model-match';
import { ConfigSchema, type Config, type Price, type Route } from './schema';

export interface LoadedConfig extends Config {
  /** Routes sorted by path length, longest first, so the first match is the longest prefix. */
  readonly sortedRoutes: readonly Route[];
  /** Every prefix this deployment accepts (KEY_PREFIX plus KEY_PREFIXES). */
  readonly prefixes: ReadonlySet<string>;
  /** PRICES as a model table (src/limits/model-match.ts), built once: never indexed by a client's string. */
  readonly prices: ModelTable<Price>;
}

export type ConfigResult = { ok: true; config: LoadedConfig } | { ok: false; message: string };

const FIELDS = [
  'KEY_PREFIX', 'KEY_PREFIXES', 'ROUTES', 'PRICES', 'DEFAULT_PRICE', 'KEY_CACHE_TTL_MS', 'STORE_TIMEOUT_MS', 'STORE_BATCH_MAX', 'MAX_KEYS_PER_OWNER',
  'LOG_RETENTION_DAYS', 'ROLLUP_RETENTION_DAYS', 'WEBHOOK_MAX_ATTEMPTS', 'WEBHOOKS_ALLOW_PRIVATE', 'BUDGET_ALERT_THRESHOLD',
  'IDENTITY_ISSUER', 'ADMIN_JWT_ISSUER', 'ADMIN_JWT_AUDIENCE', 'ADMIN_JWKS_URL', 'ADMIN_JWT_ROLES_CLAIM',
] as const;

/** Vars set through .dev.vars or `--var` arrive as strings; TOML tables arrive as objects. */
function decode(name: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (name === 'ROUTES' || name === 'PRICES' || name === 'DEFAULT_PRICE' || name === 'KEY_PREFIXES') {
    try {
      return JSON.parse(value);
    } catch {
      return Symbol.for('invalid-json');
    }
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    // A bad record key (a model name in PRICES or model_limits) carries its reason inside.
    .map((i) => `${formatPath(i.path)}: ${i.code === 'invalid_key' && i.issues[0] ? i.issues[0].message : i.message}`)
    .join('; ');
}

export function parseConfig(source: Record<string, unknown>): ConfigResult {
  const raw: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = decode(f, source[f]);
    if (typeof v === 'symbol') return { ok: false, message: `${f}: is not valid JSON` };
    if (v !== undefined && v !== '') raw[f] = v;
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, message: formatIssues(parsed.error) };
  const config = parsed.data;
  const sortedRoutes = [...config.ROUTES].sort((a, b) => b.path.length - a.path.length);
  const prefixes = new Set([config.KEY_PREFIX, ...(config.KEY_PREFIXES ?? [])]);
  const prices = new ModelTable(Object.entries(config.PRICES));
  return { ok: true, config: { ...config, sortedRoutes, prefixes, prices } };
}

// One-entry memo keyed on the identity of the raw values: env objects are stable within
// an isolate, so this parses once; a changed env (tests, redeploy) parses again.
let memo: { inputs: unknown[]; result: ConfigResult } | undefined;

export function loadConfig(env: Record<string, unknown>): ConfigResult {
  if (memo && sameInputs(memo.inputs, env)) return memo.result;
  const inputs = FIELDS.map((f) => env[f]);
  const result = parseConfig(env);
  memo = { inputs, result };
  return result;
}

// Runs on every request: a plain loop, no allocation.
function sameInputs(inputs: readonly unknown[], env: Record<string, unknown>): boolean {
  for (let i = 0; i < FIELDS.length; i++) if (env[FIELDS[i] as string] !== inputs[i]) return false;
  return true;
}

/** Longest-prefix match on whole path segments: `/demo` matches `/demo` and `/demo/x`, not `/demox`. */
export function matchRoute(config: LoadedConfig, pathname: string): Route | undefined {
  for (const route of config.sortedRoutes) {
    if (route.path === '/' || pathname === route.path || pathname.startsWith(`${route.path}/`)) return route;
  }
  return undefined;
}
