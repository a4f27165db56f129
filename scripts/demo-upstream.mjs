// Demo upstream: a small local HTTP server that stands in for the APIs keygate protects.
// By default it answers every request with a JSON description of what it received, so users
// and tests can see exactly what the gateway forwarded. A few paths fake the behaviour
// gateway tests need: OpenAI- and Anthropic-compatible chat endpoints with deterministic
// token usage (JSON and SSE), slow streams, delays, body echo, usage headers and status codes.
//
// Used by test/harness/global-setup.ts (startDemoUpstream) and by `npm run dev`
// (`node scripts/demo-upstream.mjs --port 8788`). It never logs request headers or bodies:
// they carry API keys.
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { pathToFileURL } from 'node:url';
import { webhookReceiver } from './demo-webhooks.mjs';

/**
 * @typedef {import('node:http').IncomingMessage} IncomingMessage
 * @typedef {import('node:http').ServerResponse} ServerResponse
 * @typedef {{ port: number, url: string, close: () => Promise<void> }} DemoUpstream
 */

/** Largest request body the LLM endpoints will read; larger bodies get 413. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** The fake model never "writes" more than this many tokens. */
const MAX_COMPLETION_TOKENS = 16;
/** Per-message overhead, as real chat APIs add role and separator tokens per message. */
const TOKENS_PER_MESSAGE = 3;
/** Upper bounds on the timing knobs so a typo cannot keep a test worker busy for hours. */
const MAX_WAIT_MS = 10 * 60 * 1000;
const MAX_SLOW_CHUNKS = 100_000;

/**
 * Starts the demo upstream.
 * @param {{ host?: string, port?: number, identityJwksUrl?: string, identityIssuer?: string }} [options]
 *   port 0 picks a free port. With identityJwksUrl (the gateway's /_keygate/jwks.json), a
 *   request carrying x-gateway-identity is verified as README's upstream check does, and the
 *   echo reports `identity: { verified, ... }`.
 * @returns {Promise<DemoUpstream>}
 */
export async function startDemoUpstream({ host = '127.0.0.1', port = 0, identityJwksUrl, identityIssuer } = {}) {
  /** @type {Identity | null} */
  let identity = null;
  const server = createServer((req, res) => {
    // Whatever one request does (a HEAD, a broken body, a client that hangs up mid-stream),
    // it fails alone: stream errors are ignored here and every throw ends in failRequest.
    // An 'error' event without a listener, or a throw out of the catch handler, would
    // otherwise end the whole process and with it every other user of the upstream.
    req.on('error', () => res.destroy());
    res.on('error', () => {});
    handle(req, res, identity).catch(() => failRequest(res));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('demo upstream: no TCP address');
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  if (identityJwksUrl) {
    identity = { jwks: createRemoteJWKSet(new URL(identityJwksUrl)), audience: `http://${urlHost}:${address.port}`, issuer: identityIssuer };
  }
  return {
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        // Keep-alive connections from workerd would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

/**
 * @typedef {{ jwks: ReturnType<typeof createRemoteJWKSet>, audience: string, issuer?: string }} Identity
 */

/**
 * The upstream side of x-gateway-identity, as README shows it: the gateway's keys (JWKS), its
 * algorithms, this upstream as the audience, the gateway as the issuer when known.
 * @param {Identity} identity
 * @param {string} token
 */
async function verifyIdentity(identity, token) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, identity.jwks, {
      algorithms: ['EdDSA', 'ES256'],
      audience: identity.audience,
      ...(identity.issuer ? { issuer: identity.issuer } : {}),
    });
    return { verified: true, alg: protectedHeader.alg, kid: protectedHeader.kid, claims: payload };
  } catch (err) {
    return { verified: false, error: err instanceof Error ? err.message : 'verification failed' };
  }
}

/**
 * Answers a request whose handler threw: a 500 when nothing was sent yet, else a cut
 * connection. Never throws itself.
 * @param {ServerResponse} res
 */
function failRequest(res) {
  try {
    if (res.headersSent) return void res.destroy();
    // Headers set before the throw may be what made it throw (a Trailer on a bodiless answer).
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    // Never echo internals; the demo has no secrets, but the habit matters.
    sendJson(res, 500, { error: { message: 'demo upstream failed' } });
  } catch {
    res.destroy();
  }
}

/**
 * Runs fn later for this response; a throw fails the request, not the process.
 * @param {ServerResponse} res
 * @param {() => void} fn
 * @param {number} ms
 */
function later(res, fn, ms) {
  return setTimeout(() => {
    try {
      fn();
    } catch {
      failRequest(res);
    }
  }, ms);
}

/**
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {Identity | null} identity
 */
async function handle(req, res, identity) {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q + 1);
  const params = new URLSearchParams(query);
  const method = req.method ?? 'GET';

  if (path === '/webhooks' || path.startsWith('/webhooks/')) return webhookReceiver(req, res, path);
  if (method === 'POST' && path === '/v1/chat/completions') return openAiChat(req, res);
  if (method === 'POST' && path === '/v1/messages') return anthropicMessages(req, res);
  if (method === 'POST' && path === '/echo-body') return echoBody(req, res);
  // The utility paths below ignore the method, so they also work behind POST-only routes.
  if (path === '/slow-stream') return slowStream(req, res, params);
  if (path === '/delay') return delay(req, res, params);
  if (path === '/usage-header') return usageHeader(req, res, params);
  if (path === '/hop-headers') return hopHeaders(req, res, params);
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status?.[1] !== undefined) return statusCode(req, res, Number(status[1]));
  return describeRequest(req, res, path, query, identity);
}

/**
 * The default answer: what arrived, as JSON (and, for a request with x-gateway-identity when
 * the upstream knows the gateway's JWKS, whether that identity verified).
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {string} path
 * @param {string} query
 * @param {Identity | null} identity
 */
async function describeRequest(req, res, path, query, identity) {
  const body = await readBody(req, Infinity);
  /** @type {Record<string, string>} */
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const token = headers['x-gateway-identity'];
  sendJson(res, 200, {
    method: req.method ?? 'GET',
    path,
    query,
    headers,
    body: body === null ? '' : body.toString('utf8'),
    ...(identity && token ? { identity: await verifyIdentity(identity, token) } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Deterministic fake LLM.
//
// Token rule shared by both chat endpoints (keygate's src/usage/estimate.ts uses the same
// character count, so a reservation for a demo request equals the demo's real usage):
//   prompt tokens     = ceil(C / 4) + 3 * M
//                       C = Unicode code points in all message text (string contents, and the
//                           `text` of content parts/blocks; Anthropic's top-level `system`
//                           counts too), M = number of messages (+1 when `system` is present)
//   completion tokens = min(max_tokens ?? max_completion_tokens ?? 16, 16)
//   completion text   = "ok" once per completion token, joined by spaces ("ok ok ok"); when
//                       streamed, one token per chunk: "ok", " ok", " ok", ...
//   stop reason       = "length" / "max_tokens" when the request capped it below 16 tokens,
//                       else "stop" / "end_turn".
// ---------------------------------------------------------------------------------------------

/**
 * @param {unknown} content a message `content`: a string or an array of parts.
 * @returns {number} code points of text in it
 */
function contentChars(content) {
  if (typeof content === 'string') return [...content].length;
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part === 'string') n += [...part].length;
    else if (isRecord(part) && typeof part.text === 'string') n += [...part.text].length;
  }
  return n;
}

/**
 * @param {Record<string, unknown>} body a validated chat request
 * @param {unknown[]} messages
 */
function promptTokens(body, messages) {
  let chars = 0;
  let count = messages.length;
  for (const m of messages) if (isRecord(m)) chars += contentChars(m.content);
  if (body.system !== undefined && body.system !== null) {
    chars += contentChars(body.system);
    count += 1;
  }
  return Math.ceil(chars / 4) + TOKENS_PER_MESSAGE * count;
}

/**
 * @typedef {{ model: string, promptTokens: number, completionTokens: number, truncated: boolean, stream: boolean, body: Record<string, unknown> }} ChatPlan
 */

/**
 * Reads and validates a chat request. On failure returns the error message for a 400.
 * @param {IncomingMessage} req
 * @returns {Promise<ChatPlan | { error: string, status: number }>}
 */
async function planChat(req) {
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (raw === null) return { status: 413, error: 'request body too large' };
  /** @type {unknown} */
  let body;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return { status: 400, error: 'We could not parse the JSON body of your request.' };
  }
  if (!isRecord(body)) return { status: 400, error: 'request body must be a JSON object' };
  const messages = body.messages;
  if (!Array.isArray(messages)) return { status: 400, error: 'messages: field required and must be an array' };
  if (body.model !== undefined && typeof body.model !== 'string') return { status: 400, error: 'model: must be a string' };
  let requested = MAX_COMPLETION_TOKENS;
  for (const field of ['max_tokens', 'max_completion_tokens']) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      return { status: 400, error: `${field}: must be a positive integer` };
    }
  }
  const max = body.max_tokens ?? body.max_completion_tokens;
  if (typeof max === 'number') requested = max;
  const completionTokens = Math.min(requested, MAX_COMPLETION_TOKENS);
  return {
    model: typeof body.model === 'string' ? body.model : 'demo-model',
    promptTokens: promptTokens(body, messages),
    completionTokens,
    truncated: requested < MAX_COMPLETION_TOKENS,
    stream: body.stream === true,
    body,
  };
}

/** @param {number} i zero-based token index */
const tokenText = (i) => (i === 0 ? 'ok' : ' ok');
/** @param {number} n */
const completionText = (n) => Array.from({ length: n }, (_, i) => tokenText(i)).join('');

/**
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 */
async function openAiChat(req, res) {
  const plan = await planChat(req);
  if ('error' in plan) {
    return sendJson(res, plan.status, {
      error: { message: plan.error, type: 'invalid_request_error', param: null, code: null },
    });
  }
  const id = `chatcmpl-demo${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = {
    prompt_tokens: plan.promptTokens,
    completion_tokens: plan.completionTokens,
    total_tokens: plan.promptTokens + plan.completionTokens,
  };
  const finishReason = plan.truncated ? 'length' : 'stop';

  if (!plan.stream) {
    return sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: plan.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: completionText(plan.completionTokens), refusal: null },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage,
      system_fingerprint: 'fp_demo',
    });
  }

  const streamOptions = plan.body.stream_options;
  const includeUsage = isRecord(streamOptions) && streamOptions.include_usage === true;
  startSse(res);
  /** @param {unknown[]} choices @param {object} [extra] */
  const chunk = (choices, extra = {}) => {
    const payload = {
      id,
      object: 'chat.completion.chunk',
      created,
      model: plan.model,
      system_fingerprint: 'fp_demo',
      choices,
      // Like OpenAI: with include_usage every chunk carries `usage: null` until the last one.
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    };
    res.write(`data: ${JSON.stringify(payload)}\n\n`);
  };
  chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
  for (let i = 0; i < plan.completionTokens; i++) {
    chunk([{ index: 0, delta: { content: tokenText(i) }, logprobs: null, finish_reason: null }]);
  }
  chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }]);
  if (includeUsage) chunk([], { usage });
  res.end('data: [DONE]\n\n');
}

/**
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 */
async function anthropicMessages(req, res) {
  const plan = await planChat(req);
  if ('error' in plan) {
    return sendJson(res, plan.status, {
      type: 'error',
      error: { type: plan.status === 413 ? 'request_too_large' : 'invalid_request_error', message: plan.error },
    });
  }
  const id = `msg_demo${Date.now().toString(36)}`;
  const stopReason = plan.truncated ? 'max_tokens' : 'end_turn';

  if (!plan.stream) {
    return sendJson(res, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model: plan.model,
      content: [{ type: 'text', text: completionText(plan.completionTokens) }],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: plan.promptTokens, output_tokens: plan.completionTokens },
    });
  }

  startSse(res);
  /** @param {string} type @param {object} data */
  const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: plan.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: plan.promptTokens, output_tokens: 1 },
    },
  });
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  event('ping', {});
  for (let i = 0; i < plan.completionTokens; i++) {
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: tokenText(i) } });
  }
  event('content_block_stop', { index: 0 });
  event('message_delta', {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: plan.completionTokens },
  });
  event('message_stop', {});
  res.end();
}

// ---------------------------------------------------------------------------------------------
// Utility endpoints.
// ---------------------------------------------------------------------------------------------

/**
 * `chunk-1\n` ... `chunk-N\n`, the first at once, then one every interval_ms.
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URLSearchParams} params
 */
async function slowStream(req, res, params) {
  await readBody(req, 0);
  const chunks = intParam(params, 'chunks', 5, MAX_SLOW_CHUNKS);
  const interval = intParam(params, 'interval_ms', 200, MAX_WAIT_MS);
  if (chunks === null || interval === null) return badParam(res);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  let sent = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  res.on('close', () => clearTimeout(timer));
  const next = () => {
    if (sent >= chunks) return void res.end();
    sent += 1;
    res.write(`chunk-${sent}\n`);
    timer = later(res, next, sent >= chunks ? 0 : interval);
  };
  next();
}

/**
 * Answers after ms milliseconds.
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URLSearchParams} params
 */
async function delay(req, res, params) {
  await readBody(req, 0);
  const ms = intParam(params, 'ms', 0, MAX_WAIT_MS);
  if (ms === null) return badParam(res);
  const timer = later(res, () => sendJson(res, 200, { delayed_ms: ms }), ms);
  res.on('close', () => clearTimeout(timer));
}

/**
 * Streams the request body back as it arrives.
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 */
async function echoBody(req, res) {
  res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
  res.flushHeaders();
  req.on('data', (chunk) => res.write(chunk));
  req.on('end', () => res.end());
}

/**
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URLSearchParams} params
 */
async function usageHeader(req, res, params) {
  await readBody(req, 0);
  const units = intParam(params, 'units', 1, Number.MAX_SAFE_INTEGER);
  if (units === null) return badParam(res);
  res.setHeader('x-usage-units', String(units));
  sendJson(res, 200, { units });
}

/**
 * A response carrying hop-by-hop headers, one of them named in Connection, beside an
 * ordinary one: what a gateway must remove before the client sees it. With
 * ?connection=<value>, that Connection value instead (say, a malformed token list).
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URLSearchParams} params
 */
async function hopHeaders(req, res, params) {
  await readBody(req, 0);
  res.setHeader('connection', params.get('connection') ?? 'keep-alive, x-hop-secret');
  res.setHeader('keep-alive', 'timeout=5');
  res.setHeader('proxy-authenticate', 'Basic realm="upstream"');
  // Chunked (write, then end): a Trailer header is only valid with chunked encoding, which
  // an answer to HEAD never has (Node refuses the header there: ERR_HTTP_TRAILER_INVALID).
  if (req.method !== 'HEAD') res.setHeader('trailer', 'x-checksum');
  res.setHeader('x-hop-secret', 'only for the next hop');
  res.setHeader('x-kept', 'yes');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write(JSON.stringify({ hop: true }));
  res.end();
}

/**
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {number} code
 */
async function statusCode(req, res, code) {
  await readBody(req, 0);
  if (code < 200 || code > 599) return sendJson(res, 400, { error: { message: 'status must be 200-599' } });
  if (code === 204 || code === 205 || code === 304 || req.method === 'HEAD') {
    res.writeHead(code);
    return void res.end();
  }
  sendJson(res, code, { status: code });
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/**
 * Reads the whole body. Returns null when it exceeds limit bytes (the rest is drained).
 * A limit of 0 just drains, so the connection can be reused.
 * @param {IncomingMessage} req
 * @param {number} limit
 * @returns {Promise<Buffer | null>}
 */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const parts = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= limit) parts.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? null : Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/**
 * @param {URLSearchParams} params
 * @param {string} name
 * @param {number} fallback
 * @param {number} max
 * @returns {number | null} null when present but not an integer in [0, max]
 */
function intParam(params, name, fallback, max) {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) return null;
  const n = Number(raw);
  return n <= max ? n : null;
}

/** @param {ServerResponse} res */
function badParam(res) {
  sendJson(res, 400, { error: { message: 'query parameters must be non-negative integers within bounds' } });
}

/** @param {ServerResponse} res */
function startSse(res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {unknown} value
 */
function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function isRecord(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// CLI: node scripts/demo-upstream.mjs [--host 127.0.0.1] [--port 8788]
// ---------------------------------------------------------------------------------------------

/**
 * @param {string[]} argv
 * @returns {{ host: string, port: number }}
 */
function parseArgs(argv) {
  /** @type {{ host: string, port: number, identityJwksUrl?: string }} */
  const out = { host: '127.0.0.1', port: 8788 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    if (flag !== '--port' && flag !== '--host' && flag !== '--identity-jwks') throw new Error(`unknown argument: ${arg}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--host') out.host = value;
    else if (flag === '--identity-jwks') out.identityJwksUrl = value;
    else {
      if (!/^\d+$/.test(value) || Number(value) > 65535) throw new Error(`invalid port: ${value}`);
      out.port = Number(value);
    }
  }
  return out;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`demo-upstream: ${err instanceof Error ? err.message : String(err)}`);
    console.error('usage: node scripts/demo-upstream.mjs [--host 127.0.0.1] [--port 8788] [--identity-jwks http://127.0.0.1:8787/_keygate/jwks.json]');
    process.exit(2);
  }
  const upstream = await startDemoUpstream(args);
  console.log(`demo upstream listening on ${upstream.url}`);
  const stop = () => {
    upstream.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
