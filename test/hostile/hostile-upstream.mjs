// A hostile (or merely unusual) upstream for the metering tests: it answers the endpoints the
// official OpenAI and Anthropic SDKs call, but in the ways that used to let usage slip past
// keygate. Each answer is chosen by the request path and a `mode` query parameter:
//
//   POST /v1/responses                 Responses API: JSON, or SSE when the body has stream;
//                                      usage 20,000 input + 30,000 output
//   POST /v1/chat/completions          ?mode=big    a JSON body over 1 MiB (n, logprobs), usage
//                                                   10 + 256,000 at its end
//                                      ?mode=late   SSE: 40,000 characters of text, finish_reason,
//                                                   then the usage chunk (10 + 20,000) after
//                                                   `delay_ms` (default 2000)
//                                      ?mode=lie&usage=<json>  JSON whose usage is <json> as sent
//                                      anything else: JSON, usage 10 + 16
//   POST /v1/embeddings                usage { prompt_tokens: 8, total_tokens: 8 }
//   POST /v1/messages/batches          a batch object: no usage (it comes later, in results)
//   POST /v1/messages/count_tokens     { input_tokens: 12 }
//   anything else                      200 `{ "path": <path>, "body": <body text> }`
//
// Every answer counts as a hit (GET /__hits?path=... reads the count), so a test can show a
// refused request never reached the upstream. Never logs requests.
import { createServer } from 'node:http';
import { listenLocal } from '../harness/listen.mjs';

const BIG_CHOICES = 300;

/** @param {{ host?: string, port?: number }} [options] */
export async function startHostileUpstream({ host = '127.0.0.1', port = 0 } = {}) {
  /** @type {Map<string, number>} */
  const hits = new Map();
  const server = createServer((req, res) => {
    handle(req, res, hits).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'hostile upstream failed' });
      else res.destroy();
    });
  });
  return listenLocal(server, 'hostile upstream', { host, port });
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {Map<string, number>} hits
 */
async function handle(req, res, hits) {
  const url = new URL(req.url ?? '/', 'http://upstream');
  const path = url.pathname;
  const mode = url.searchParams.get('mode') ?? '';
  if (path === '/__hits') return json(res, 200, { hits: hits.get(url.searchParams.get('path') ?? '') ?? 0 });
  hits.set(path, (hits.get(path) ?? 0) + 1);
  const text = await readText(req);
  /** @type {Record<string, unknown>} */
  let body = {};
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed;
  } catch {
    // not JSON: answered as an echo below
  }

  if (path.endsWith('/responses')) return responses(res, body.stream === true);
  if (path.endsWith('/chat/completions')) {
    if (mode === 'big') return bigCompletion(res);
    if (mode === 'late') return lateUsageStream(res, Number(url.searchParams.get('delay_ms') ?? 2000));
    if (mode === 'lie') return json(res, 200, { object: 'chat.completion', choices: [], usage: JSON.parse(url.searchParams.get('usage') ?? 'null') });
    return json(res, 200, { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }], usage: { prompt_tokens: 10, completion_tokens: 16, total_tokens: 26 } });
  }
  if (path.endsWith('/embeddings')) return json(res, 200, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 8, total_tokens: 8 } });
  if (path.endsWith('/messages/batches')) {
    return json(res, 200, { id: 'msgbatch_1', type: 'message_batch', processing_status: 'in_progress', request_counts: { processing: Array.isArray(body.requests) ? body.requests.length : 0 } });
  }
  if (path.endsWith('/messages/count_tokens')) return json(res, 200, { input_tokens: 12 });
  return json(res, 200, { path, body: text });
}

const RESPONSE_USAGE = { input_tokens: 20_000, input_tokens_details: { cached_tokens: 0 }, output_tokens: 30_000, output_tokens_details: { reasoning_tokens: 29_000 }, total_tokens: 50_000 };

/** @param {import('node:http').ServerResponse} res @param {boolean} stream */
function responses(res, stream) {
  const done = {
    id: 'resp_1', object: 'response', status: 'completed', model: 'gpt-x',
    output: [{ type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'ok ok', annotations: [] }] }],
    usage: RESPONSE_USAGE,
  };
  if (!stream) return json(res, 200, done);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let seq = 0;
  const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
  event('response.created', { response: { ...done, status: 'in_progress', output: [], usage: null } });
  event('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'ok' });
  event('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' ok' });
  event('response.completed', { response: done });
  res.end();
}

/** A chat.completion of BIG_CHOICES choices with logprobs: well over 1 MiB, usage last. */
function bigCompletion(res) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write(`{"id":"chatcmpl-big","object":"chat.completion","model":"gpt-x","choices":[`);
  for (let i = 0; i < BIG_CHOICES; i++) {
    const logprobs = { content: Array.from({ length: 40 }, () => ({ token: ' "ok"', logprob: -0.01, bytes: [32, 34, 111, 107, 34], top_logprobs: [] })) };
    res.write(`${i === 0 ? '' : ','}${JSON.stringify({ index: i, message: { role: 'assistant', content: 'usage: {"prompt_tokens": 1} '.repeat(40) }, logprobs, finish_reason: 'stop' })}`);
  }
  res.end(`],"usage":{"prompt_tokens":10,"completion_tokens":256000,"total_tokens":256010}}`);
}

/** A chat stream whose usage chunk comes a while after finish_reason. */
function lateUsageStream(res, delayMs) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (data) => res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', ...data })}\n\n`);
  chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], usage: null });
  for (let i = 0; i < 40; i++) chunk({ choices: [{ index: 0, delta: { content: 'x'.repeat(1000) }, finish_reason: null }], usage: null });
  chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null });
  const timer = setTimeout(() => {
    chunk({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 20_000, total_tokens: 20_010 } });
    res.end('data: [DONE]\n\n');
  }, Math.min(Math.max(delayMs, 0), 60_000));
  res.on('close', () => clearTimeout(timer));
}

/** @param {import('node:http').IncomingMessage} req @returns {Promise<string>} */
async function readText(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body */
function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
