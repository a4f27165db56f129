// Random proxied requests: methods, route prefixes and encoded paths, queries, credentials,
// header names and values, and chat bodies with the fields that decide metering (`model`,
// `stream`, `max_tokens`, `n`) on the metered route.
import fc from 'fast-check';
import { knownHeader, knownModel, PROTOTYPE_NAMES } from './known-failures.mjs';
import { bodyFor, NASTY_COMPONENT } from './request-parts.mjs';
import { schemaContext } from './schema-arbitraries.mjs';

/** @typedef {import('./requests.mjs').FuzzRequest} FuzzRequest */

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
  .filter((b) => !knownModel(b.model))
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
    hs.filter(([name, value]) => !knownHeader(name, value)),
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
