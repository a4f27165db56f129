// Fuzz requests: every operation of the admin OpenAPI document (enumerated, so a new admin
// route is fuzzed without anyone writing a test), and random proxied requests. A request is
// plain data with placeholders for run-specific secrets and ids ({{ADMIN}}, {{KEY}},
// {{METERED}}, {{ID0}}...), so a failing case prints as a curl that works on any run.
import fc from 'fast-check';
import { deepNesting, invalidValue, schemaContext, validValue } from './schema-arbitraries.mjs';

/**
 * @typedef {import('./schema-arbitraries.mjs').Schema} Schema
 * @typedef {string | { bytes: number[] } | { repeat: string, count: number }} Body
 * @typedef {{ label: string, method: string, path: string, headers: [string, string][], body?: Body }} FuzzRequest
 * @typedef {{ method: string, path: string, parameters: { name: string, in: string, required?: boolean, schema: Schema }[], body?: Schema }} Operation
 */

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** How many disposable keys the admin operations get as `{id}` targets ({{ID0}}...). */
export const TARGET_KEYS = 4;

/**
 * The routes keygate runs with under fuzzing: a plain one and a metered LLM one, both to the
 * demo upstream. Limits are high enough that fuzzing never exhausts them.
 * @param {string} upstream
 */
export function fuzzRoutes(upstream) {
  return [
    { path: '/demo', upstream },
    {
      path: '/llm',
      upstream,
      methods: ['GET', 'POST'],
      limits: { rpm: 1_000_000, tpm: 1_000_000_000 },
      budget: { usd: 1_000_000, period: 'day' },
      metering: { format: 'auto', include_usage: true, default_reservation: 256 },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Known failures other branches are fixing (issue 15 and the hardening issues). Each is kept
// out of generation, by the exact class of input, so the suite stays green meanwhile; remove
// an entry once its fix is merged and the suite must still pass.
// ---------------------------------------------------------------------------------------------
export const KNOWN = {
  /** Hardening: models named like Object.prototype members (`constructor`, `__proto__`) answer 503. */
  prototypeModels: true,
  /** Hardening: an expiry after 2038-01-19 (KV expiration overflows int32), or a huge ttl_seconds, answers 500. */
  expiriesAfter2038: true,
  /** Proxy fidelity: `Expect: 100-continue` answers 500. */
  expectContinue: true,
  /** Issue 15 #1: a long `q=` on GET /admin/keys exceeds D1's LIKE pattern limit and answers 500. */
  longListSearch: true,
  /** Issue 15 #2: money and count fields without an upper bound overflow (usd: null, Infinity). */
  unboundedAmounts: true,
  /** Issue 15 #3: a request refused with invalid_path has already been charged to its limits. */
  refusedPathCharged: true,
};

/** Latest expiry KV can hold (int32 seconds), less a margin for ttl arithmetic. */
const KV_MAX_EXPIRY_MS = (2 ** 31 - 1) * 1000 - 400 * 86400 * 1000;
/** A bound every amount's arithmetic holds, applied only where the document sets none. */
const UNBOUNDED_AMOUNT_CAP = 1e12;
/** D1 refuses LIKE patterns over 50 bytes; the search wraps and escapes q. */
const LIST_SEARCH_MAX_BYTES = 20;
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

/**
 * Every operation in the document.
 * @param {any} doc the /admin/openapi.json document
 * @returns {Operation[]}
 */
export function operations(doc) {
  /** @type {Operation[]} */
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = /** @type {any} */ (item)[method];
      if (op === undefined) continue;
      const parameters = [...(/** @type {any} */ (item).parameters ?? []), ...(op.parameters ?? [])];
      ops.push({ method: method.toUpperCase(), path, parameters, body: op.requestBody?.content?.['application/json']?.schema });
    }
  }
  return ops;
}

/** @param {Operation} op */
export const opLabel = (op) => `${op.method} /admin${op.path}`;

/** Keeps known-failure inputs out of a schema context's value space. */
function knownCaps() {
  return {
    ...(KNOWN.unboundedAmounts ? { maxUnboundedNumber: UNBOUNDED_AMOUNT_CAP } : {}),
    ...(KNOWN.expiriesAfter2038 ? { maxDate: KV_MAX_EXPIRY_MS } : {}),
  };
}

/**
 * Drops body values that fall into a KNOWN class (after generation, so the generators stay
 * the document's own).
 * @param {unknown} v
 */
function inKnownClass(v) {
  if (v === null || typeof v !== 'object') return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  if (KNOWN.expiriesAfter2038) {
    if (typeof o.expires_at === 'string' && Date.parse(o.expires_at) > KV_MAX_EXPIRY_MS) return true;
    if (typeof o.ttl_seconds === 'number' && o.ttl_seconds > 10 * 365 * 86400) return true;
  }
  if (KNOWN.unboundedAmounts && someNumber(v, (n) => Math.abs(n) > UNBOUNDED_AMOUNT_CAP)) return true;
  if (KNOWN.prototypeModels && o.model_limits !== null && typeof o.model_limits === 'object' && Object.keys(o.model_limits).some((k) => PROTOTYPE_NAMES.includes(k))) return true;
  return false;
}

/**
 * Whether any number in v (at any depth, without recursion: bodies nest thousands deep) passes test.
 * @param {unknown} v
 * @param {(n: number) => boolean} test
 */
function someNumber(v, test) {
  const stack = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x === 'number' && test(x)) return true;
    if (x !== null && typeof x === 'object') stack.push(...Object.values(x));
  }
  return false;
}

/** Characters that make a path or query value interesting, percent-encoded or raw. */
const NASTY_COMPONENT = fc.constantFrom('', '%', '%zz', '%00', '%2f', '%2e%2e', '..', '%C0%AF', '%FF', '%E2%80%AE', 'a%20b', '+', '%2B', ';x', 'key_', 'key_00000000000000000000000000', 'x'.repeat(3000), '%u0041', '\u00e9', '\ud83d\ude00');

/**
 * Percent-encodes s; a lone surrogate becomes its (invalid) three UTF-8-style bytes, which is
 * what a careless client sends.
 * @param {string} s
 */
function enc(s) {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
    else out += encodeURIComponent(ch);
  }
  return out;
}

/**
 * A string form of a query or path value: the schema's valid values, or broken ones.
 * @param {Schema} schema
 * @param {import('./schema-arbitraries.mjs').Ctx} ctx
 */
function paramValue(schema, ctx) {
  const asText = (/** @type {unknown} */ v) => (typeof v === 'string' ? enc(v) : enc(JSON.stringify(v) ?? ''));
  return fc.oneof(
    { weight: 4, arbitrary: validValue(schema, ctx).map(asText) },
    { weight: 2, arbitrary: invalidValue(schema, ctx).map(asText) },
    { weight: 1, arbitrary: NASTY_COMPONENT },
  );
}

/** A JSON body: valid for the schema, broken in one place, or not JSON at all. */
function bodyFor(/** @type {Schema | undefined} */ schema, /** @type {import('./schema-arbitraries.mjs').Ctx} */ ctx) {
  /** @type {fc.Arbitrary<Body | undefined>} */
  const junk = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('', ' ', 'null', '[]', '"x"', '{', '{"a":', '{"a":1}{"b":2}', '\ufeff{}', '{"a":1,"a":2}', 'NaN', '1e999', 'not json', '<xml/>'),
    fc.string({ unit: 'binary', maxLength: 64 }),
    fc.uint8Array({ maxLength: 48 }).map((b) => ({ bytes: [0x7b, 0x22, ...b, 0xff, 0xfe, 0x22, 0x7d] })),
    fc.constantFrom(64 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024).map((count) => ({ repeat: 'a', count })),
    deepNesting().map((v) => JSON.stringify(v)),
  );
  if (schema === undefined) return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junk });
  const json = (/** @type {fc.Arbitrary<unknown>} */ a) => a.filter((v) => !inKnownClass(v)).map((v) => /** @type {Body} */ (JSON.stringify(v)));
  return fc.oneof({ weight: 5, arbitrary: json(validValue(schema, ctx)) }, { weight: 4, arbitrary: json(invalidValue(schema, ctx)) }, { weight: 2, arbitrary: junk });
}

const CONTENT_TYPES = fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '');

/**
 * Requests for one admin operation: path params, query, header params and body from the
 * document's schemas, the admin token in front.
 * @param {Operation} op
 * @param {any} doc
 * @returns {fc.Arbitrary<FuzzRequest>}
 */
export function adminRequest(op, doc) {
  const ctx = schemaContext(doc, knownCaps());
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const headerParams = op.parameters.filter((p) => p.in === 'header');

  /** @type {Record<string, fc.Arbitrary<string>>} */
  const pathValues = {};
  for (const p of pathParams) {
    pathValues[p.name] =
      p.name === 'id'
        ? fc.oneof({ weight: 6, arbitrary: fc.nat(TARGET_KEYS - 1).map((i) => `{{ID${i}}}`) }, { weight: 2, arbitrary: paramValue(p.schema, ctx) })
        : paramValue(p.schema, ctx);
  }
  const query = fc.array(
    fc.oneof(
      { weight: 5, arbitrary: queryParams.length ? fc.constantFrom(...queryParams).chain((p) => queryValue(p, ctx).map((v) => `${enc(p.name)}=${v}`)) : fc.constant('') },
      { weight: 1, arbitrary: fc.tuple(NASTY_COMPONENT, NASTY_COMPONENT).map(([k, v]) => `${k}=${v}`) },
    ),
    { maxLength: 4 },
  );
  const headers = fc.array(
    fc.oneof(
      ...headerParams.map((p) => fc.string({ unit: 'grapheme-ascii', maxLength: 260 }).map((v) => /** @type {[string, string]} */ ([p.name, v.trim()]))),
      CONTENT_TYPES.map((v) => /** @type {[string, string]} */ (['content-type', v])),
    ),
    { maxLength: 2 },
  );
  return fc.record({ path: fc.record(pathValues), query, headers, body: bodyFor(op.body, ctx), contentType: fc.boolean() }).map(({ path, query, headers, body, contentType }) => {
    const concrete = op.path.replace(/\{([^}]+)\}/g, (_m, name) => path[name] ?? '');
    const qs = query.filter((q) => q !== '').join('&');
    /** @type {[string, string][]} */
    const h = [['authorization', 'Bearer {{ADMIN}}']];
    if (body !== undefined && contentType && !headers.some(([n]) => n === 'content-type')) h.push(['content-type', 'application/json']);
    h.push(...headers);
    return { label: opLabel(op), method: op.method, path: `/admin${concrete}${qs ? `?${qs}` : ''}`, headers: h, body: op.method === 'GET' || op.method === 'HEAD' ? undefined : body };
  });
}

/**
 * @param {{ name: string, schema: Schema }} p
 * @param {import('./schema-arbitraries.mjs').Ctx} ctx
 */
function queryValue(p, ctx) {
  const v = paramValue(p.schema, ctx);
  if (KNOWN.longListSearch && p.name === 'q') return v.filter((s) => new TextEncoder().encode(safeDecode(s)).length <= LIST_SEARCH_MAX_BYTES);
  return v;
}

/** @param {string} s */
function safeDecode(s) {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Proxied requests.
// ---------------------------------------------------------------------------------------------

/** Segments for upstream paths; never one of the demo upstream's utility paths. */
const SEGMENT = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9._~-]{1,12}$/).filter((s) => s !== '.' && s !== '..') },
  { weight: 2, arbitrary: fc.constantFrom('%2e', '%2E%2E', '..', '.', '', '%2f', '%5c', '%00', '%zz', '%', '%C0%AE', '%E2%80%AE', 'a%20b', ';p=1', '@', ':', '%25', 'é', '😀', '\\') },
);
const HEADER_NAME = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}$/);
const HEADER_VALUE = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), fc.constantFrom('', ' x ', 'a'.repeat(8000), 'chunked', 'close', 'gzip', 'bytes=0-1', '*', 'keep-alive, x-kept', '100-continue', 'h2c', 'upgrade'));
const SENSITIVE_HEADERS = fc.constantFrom('connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'transfer-encoding', 'content-length', 'content-encoding', 'host', 'expect', 'range', 'if-none-match', 'x-forwarded-for', 'x-request-id', 'cf-connecting-ip', 'x-gateway-key-id', 'x-api-key', 'cookie', 'accept-encoding', 'referer', 'origin');
const MODEL = fc.oneof(
  fc.constantFrom('gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku', 'unknown-model', '', ' ', 'GPT-4O', 'x'.repeat(300), ...PROTOTYPE_NAMES, '__proto__'),
  fc.string({ maxLength: 24 }),
  fc.constantFrom(null, 1, true, [], {}),
);
const COUNT = fc.oneof(fc.constantFrom(undefined, null, -1, 0, 1, 2, 16, 128, 2 ** 31, 2 ** 53, 1e308, 1.5, '10', 'NaN', [], {}), fc.integer());

/** A chat body for the metered route, with the fields that decide reservation and price. */
const CHAT_BODY = fc
  .record(
    {
      model: MODEL,
      stream: fc.constantFrom(true, false, 'true', null, 1),
      max_tokens: COUNT,
      max_completion_tokens: COUNT,
      n: COUNT,
      messages: fc.oneof(fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('x'.repeat(5000))) }), { maxLength: 3 }), fc.constantFrom(null, 'hi', [{}], [{ content: [{ text: 'x' }] }])),
      stream_options: fc.constantFrom(undefined, { include_usage: true }, { include_usage: false }, null, 'x'),
      system: fc.constantFrom(undefined, 'be brief', [{ type: 'text', text: 'be brief' }], 5),
    },
    { requiredKeys: [] },
  )
  .filter((b) => !(KNOWN.prototypeModels && typeof b.model === 'string' && (PROTOTYPE_NAMES.includes(b.model) || b.model === '__proto__')))
  .map((b) => JSON.stringify(b));

/** Who the request claims to be. */
const CREDENTIAL = fc.oneof(
  { weight: 6, arbitrary: fc.constant(/** @type {[string, string][]} */ ([['authorization', 'Bearer {{KEY}}']])) },
  { weight: 4, arbitrary: fc.constant(/** @type {[string, string][]} */ ([['authorization', 'Bearer {{METERED}}']])) },
  { weight: 1, arbitrary: fc.constant(/** @type {[string, string][]} */ ([['x-api-key', '{{KEY}}']])) },
  { weight: 1, arbitrary: fc.constant(/** @type {[string, string][]} */ ([])) },
  { weight: 1, arbitrary: fc.constantFrom('Bearer ', 'Bearer kg_live_x', 'Basic {{KEY}}', 'Bearer {{KEY}} {{KEY}}', 'bearer {{KEY}}', 'Bearer {{KEY}}x').map((v) => /** @type {[string, string][]} */ ([['authorization', v]])) },
);

/**
 * Random proxied requests. Methods are those workerd's HTTP server accepts (it answers any
 * other token with its own 501 before a Worker runs).
 * @returns {fc.Arbitrary<FuzzRequest>}
 */
export function proxyRequest() {
  const method = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') }, { weight: 1, arbitrary: fc.constantFrom('PROPFIND', 'PURGE', 'MKCOL', 'REPORT') });
  const prefix = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('/demo', '/llm') }, { weight: 1, arbitrary: fc.constantFrom('/%64emo', '/DEMO', '/demo%2f', '//demo', '/llmx', '/', '/_keygate/usage', '/_keygate/key', '/_keygate/x', '/admin') });
  const path = fc.oneof(
    { weight: 3, arbitrary: fc.array(SEGMENT, { maxLength: 4 }).map((s) => `/fz${s.map((x) => `/${x}`).join('')}`) },
    { weight: 3, arbitrary: fc.constantFrom('/v1/chat/completions', '/v1/messages') },
    { weight: 1, arbitrary: fc.constantFrom('', '/', '?', '/fz?') },
  );
  const query = fc.option(fc.array(fc.tuple(fc.oneof(fc.constantFrom('api_key', 'key', 'q', 'stream', 'model'), NASTY_COMPONENT), NASTY_COMPONENT), { minLength: 1, maxLength: 3 }).map((kv) => kv.map(([k, v]) => `${k}=${v}`).join('&')), { nil: undefined });
  const extraHeaders = fc.array(fc.tuple(fc.oneof(HEADER_NAME, SENSITIVE_HEADERS), HEADER_VALUE), { maxLength: 4 }).map((hs) =>
    hs.filter(([name, value]) => !(KNOWN.expectContinue && name.toLowerCase() === 'expect' && /100-continue/i.test(value))),
  );
  const body = fc.oneof({ weight: 4, arbitrary: CHAT_BODY }, { weight: 3, arbitrary: bodyFor(undefined, schemaContext({})) });
  return fc.record({ method, prefix, path, query, credential: CREDENTIAL, headers: extraHeaders, body, json: fc.boolean() }).map((r) => {
    /** @type {[string, string][]} */
    const headers = [...r.credential, ...r.headers];
    if (r.json) headers.push(['content-type', 'application/json']);
    const bodyless = r.method.toUpperCase() === 'GET' || r.method.toUpperCase() === 'HEAD';
    return {
      label: `proxy ${r.prefix}`,
      method: r.method,
      path: `${r.prefix}${r.path}${r.query === undefined ? '' : `${r.path.includes('?') ? '&' : '?'}${r.query}`}`,
      headers,
      body: bodyless ? undefined : r.body,
    };
  });
}

/**
 * Every admin operation and the proxy, weighted so each operation gets its share.
 * @param {any} doc
 * @returns {fc.Arbitrary<FuzzRequest>}
 */
export function anyRequest(doc) {
  const ops = operations(doc);
  return fc.oneof(...ops.map((op) => ({ weight: 1, arbitrary: adminRequest(op, doc) })), { weight: Math.max(3, Math.ceil(ops.length / 2)), arbitrary: proxyRequest() });
}
