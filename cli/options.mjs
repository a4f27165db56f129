// Flag values to admin API request bodies: durations, lists, JSON objects, limits, budget.

import { UsageError } from './errors.mjs';

/** @typedef {{ type: 'string' | 'boolean', multiple?: boolean, short?: string, arg?: string, help: string }} OptionSpec */

const NONE = new Set(['', 'none', 'null']);

/**
 * `3600`, `90s`, `15m`, `12h`, `30d`, `2w` to whole seconds (> 0).
 * @param {string} flag  for the error message
 * @param {string} raw
 * @param {{ allowZero?: boolean }} [opts]
 */
export function parseDuration(flag, raw, opts = {}) {
  const m = /^(\d+)\s*(s|m|h|d|w)?$/i.exec(raw.trim());
  const mult = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const n = m ? Number(m[1]) * mult[/** @type {keyof typeof mult} */ ((m[2] ?? 's').toLowerCase())] : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || (n === 0 && !opts.allowZero)) {
    throw new UsageError(`${flag} must be a duration like 3600, 90s, 15m, 12h or 30d (got "${raw}")`);
  }
  return n;
}

/**
 * Repeatable and comma-separated values, trimmed, empty ones dropped (so `--tag ''` is an empty list).
 * @param {string[] | undefined} values
 * @returns {string[] | undefined}
 */
export function listOf(values) {
  if (values === undefined) return undefined;
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/**
 * @param {string} flag
 * @param {string} raw
 * @returns {Record<string, unknown>}
 */
export function jsonObject(flag, raw) {
  /** @type {unknown} */
  let value;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`${flag} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${flag} must be a JSON object, e.g. '{"team":"search"}'`);
  return /** @type {Record<string, unknown>} */ (value);
}

/**
 * An ISO date-time (or a date) to the ISO form the API wants; `never`/`none`/'' to null.
 * @param {string} flag
 * @param {string} raw
 */
export function parseExpiry(flag, raw) {
  if (NONE.has(raw.trim().toLowerCase()) || raw.trim().toLowerCase() === 'never') return null;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new UsageError(`${flag} must be an ISO 8601 date-time like 2026-12-31T23:59:59Z, or "never" (got "${raw}")`);
  return new Date(t).toISOString();
}

/**
 * @param {string} flag
 * @param {string} raw
 */
function wholeNumber(flag, raw) {
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`${flag} must be a whole number >= 0${flag === '--limit' ? '' : ' (or "none" to remove it)'} (got "${raw}")`);
  return Number(raw.trim());
}

/**
 * @param {string} flag
 * @param {string} raw
 */
export function positiveInt(flag, raw) {
  const n = wholeNumber(flag, raw);
  if (n < 1) throw new UsageError(`${flag} must be at least 1`);
  return n;
}

/**
 * The options that set a key's fields, shared by create and update.
 * @type {Record<string, OptionSpec>}
 */
export const FIELD_OPTIONS = {
  name: { type: 'string', arg: '<text>', help: 'display name' },
  description: { type: 'string', arg: '<text>', help: 'free text' },
  owner: { type: 'string', arg: '<owner>', help: 'who the key belongs to (user/team/org id); "" for none' },
  type: { type: 'string', arg: '<type>', help: 'user | service | system' },
  scope: { type: 'string', multiple: true, arg: '<scope>', help: 'scopes; repeat or comma-separate' },
  tag: { type: 'string', multiple: true, arg: '<tag>', help: 'tags; repeat or comma-separate' },
  metadata: { type: 'string', arg: '<json>', help: "a JSON object, e.g. '{\"team\":\"search\"}' (max 4 KB)" },
  'allowed-ip': { type: 'string', multiple: true, arg: '<cidr>', help: 'only from these IPs/CIDRs; repeat or comma-separate' },
  'allowed-referer': { type: 'string', multiple: true, arg: '<host>', help: 'only with these referer hosts (example.com, *.example.com)' },
  'expires-at': { type: 'string', arg: '<iso>', help: 'expiry date-time (ISO 8601), or "never"' },
  ttl: { type: 'string', arg: '<dur>', help: 'expire after a duration: seconds, or 90m, 12h, 30d, 2w' },
  rpm: { type: 'string', arg: '<n>', help: 'requests per minute' },
  rpd: { type: 'string', arg: '<n>', help: 'requests per day' },
  tpm: { type: 'string', arg: '<n>', help: 'tokens per minute' },
  tpd: { type: 'string', arg: '<n>', help: 'tokens per day' },
  'model-limits': { type: 'string', arg: '<json>', help: 'per-model limits, e.g. \'{"gpt-4o":{"tpm":1000}}\'' },
  'budget-usd': { type: 'string', arg: '<usd>', help: 'spend budget in USD (with --budget-period)' },
  'budget-period': { type: 'string', arg: '<period>', help: 'day | month | total' },
  model: { type: 'string', multiple: true, arg: '<name>', help: 'allowed models (names or families like gpt-4o*); repeat or comma-separate; "" allows every model' },
  'max-concurrent': { type: 'string', arg: '<n>', help: 'requests in flight at once; "none" removes the cap' },
  credits: { type: 'string', arg: '<n>', help: 'prepaid credits (starting balance); "none" removes credits' },
  'credits-refill': { type: 'string', arg: '<n>/<day|month>', help: 'refill the balance to n each UTC day or month, e.g. 1000/day' },
};

/**
 * The field options of `keys create`: the same flags, with the defaults the gateway applies
 * to a new key. `keys update` shows FIELD_OPTIONS, because an update changes only what is given.
 * @type {Record<string, OptionSpec>}
 */
export const CREATE_FIELD_OPTIONS = {
  ...FIELD_OPTIONS,
  type: { ...FIELD_OPTIONS.type, help: `${FIELD_OPTIONS.type?.help} (default user)` },
  scope: { ...FIELD_OPTIONS.scope, help: `${FIELD_OPTIONS.scope?.help} (default read,write)` },
};

const LIMIT_FLAGS = /** @type {const} */ (['rpm', 'rpd', 'tpm', 'tpd']);

/**
 * Builds the create or update body from the field flags. Only given flags are sent. For
 * update, limit and budget flags are merged into the key's current values (fetched with
 * `current()`), because the API replaces `limits` and `budget` as a whole.
 * @param {Record<string, any>} v  parsed flag values
 * @param {'create' | 'update'} mode
 * @param {() => Promise<Record<string, any>>} current
 * @returns {Promise<Record<string, unknown>>}
 */
export async function fieldsBody(v, mode, current) {
  /** @type {Record<string, unknown>} */
  const body = {};
  if (v.name !== undefined) body.name = v.name;
  if (v.description !== undefined) body.description = v.description;
  if (v.owner !== undefined) body.owner = v.owner === '' ? null : v.owner;
  if (v.type !== undefined) body.type = v.type;
  if (v.scope !== undefined) body.scopes = listOf(v.scope);
  if (v.tag !== undefined) body.tags = listOf(v.tag);
  if (v['allowed-ip'] !== undefined) body.allowed_ips = listOf(v['allowed-ip']);
  if (v['allowed-referer'] !== undefined) body.allowed_referers = listOf(v['allowed-referer']);
  if (v.metadata !== undefined) body.metadata = jsonObject('--metadata', v.metadata);
  if (v['model-limits'] !== undefined) {
    body.model_limits = NONE.has(v['model-limits'].trim()) ? null : jsonObject('--model-limits', v['model-limits']);
  }

  if (v['expires-at'] !== undefined && v.ttl !== undefined) throw new UsageError('give --expires-at or --ttl, not both');
  if (v['expires-at'] !== undefined) body.expires_at = parseExpiry('--expires-at', v['expires-at']);
  if (v.ttl !== undefined) {
    const seconds = parseDuration('--ttl', v.ttl);
    // PATCH has no ttl_seconds: turn it into a date-time here.
    if (mode === 'create') body.ttl_seconds = seconds;
    else body.expires_at = new Date(Date.now() + seconds * 1000).toISOString();
  }

  const limitFlags = LIMIT_FLAGS.filter((f) => v[f] !== undefined);
  if (v['no-limits'] && limitFlags.length) throw new UsageError('give --no-limits or limit flags, not both');
  if (v['no-limits']) body.limits = null;
  if (limitFlags.length) {
    /** @type {Record<string, number>} */
    const limits = mode === 'update' ? { ...((await current()).limits ?? {}) } : {};
    for (const f of limitFlags) {
      if (NONE.has(String(v[f]).trim().toLowerCase())) delete limits[f];
      else limits[f] = wholeNumber(`--${f}`, v[f]);
    }
    if (Object.keys(limits).length) body.limits = limits;
    else if (mode === 'update') body.limits = null;
  }

  const usdRaw = v['budget-usd'];
  const period = v['budget-period'];
  if (usdRaw !== undefined && NONE.has(String(usdRaw).trim().toLowerCase())) {
    if (period !== undefined) throw new UsageError('--budget-usd none removes the budget; do not give --budget-period with it');
    if (mode === 'update') body.budget = null;
  } else if (usdRaw !== undefined || period !== undefined) {
    const prev = mode === 'update' ? (await current()).budget : null;
    const amount = usdRaw !== undefined ? Number(usdRaw) : prev?.usd;
    if (usdRaw !== undefined && (String(usdRaw).trim() === '' || !Number.isFinite(amount) || /** @type {number} */ (amount) < 0)) {
      throw new UsageError(`--budget-usd must be an amount >= 0 (or "none" to remove the budget) (got "${usdRaw}")`);
    }
    const per = period ?? prev?.period;
    if (amount === undefined) throw new UsageError('--budget-period needs --budget-usd (this key has no budget yet)');
    if (per === undefined) throw new UsageError('--budget-usd needs --budget-period day|month|total');
    body.budget = { usd: amount, period: per };
  }
  if (v.model !== undefined) {
    const models = listOf(v.model) ?? [];
    body.models = models.length ? models : mode === 'update' ? null : [];
  }
  const max = v['max-concurrent'];
  if (max !== undefined) body.max_concurrent = NONE.has(String(max).trim().toLowerCase()) ? null : positiveInt('--max-concurrent', max);
  if (v.credits !== undefined && NONE.has(String(v.credits).trim().toLowerCase())) {
    if (v['credits-refill'] !== undefined) throw new UsageError('--credits none removes credits; do not give --credits-refill with it');
    body.credits = null;
  } else if (v.credits !== undefined || v['credits-refill'] !== undefined) {
    const prev = mode === 'update' ? (await current()).credits : null;
    const remaining = v.credits !== undefined ? wholeNumber('--credits', v.credits) : prev?.remaining;
    if (remaining === undefined) throw new UsageError('--credits-refill needs --credits (this key has no credits yet)');
    /** @type {Record<string, unknown>} */
    const credits = { remaining };
    const refill = v['credits-refill'] ?? (prev?.refill ? `${prev.refill.amount}/${prev.refill.interval}` : undefined);
    if (refill !== undefined && !NONE.has(String(refill).trim().toLowerCase())) {
      const m = /^(\d+)\/(day|month)$/.exec(String(refill).trim());
      if (!m) throw new UsageError(`--credits-refill must look like 1000/day or 1000/month (got "${refill}")`);
      credits.refill = { amount: Number(m[1]), interval: m[2] };
    }
    body.credits = credits;
  }
  return body;
}

/**
 * The body of PUT /admin/owners/{owner}: the owner's whole policy from the flags given.
 * @param {Record<string, any>} v
 */
export async function ownerBody(v) {
  const body = await fieldsBody(v, 'create', async () => ({}));
  if (Array.isArray(body.models) && body.models.length === 0) delete body.models;
  return body;
}
