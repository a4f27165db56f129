// Meters the real demo upstream (scripts/demo-upstream.mjs, started by the global setup) from
// inside workerd, over real sockets, and checks the upstream behaves as the gateway tests and
// `npm run dev` expect.
import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { openAiChat } from '../../src/usage/formats/openai-chat';
import { bytes, finalUsage, meter, meterChunks, readAll, splitAt } from './fixtures';

const base = () => `http://127.0.0.1:${inject('upstreamPort')}`;
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${base()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function meterFetch(path: string, body: unknown, format: 'openai' | 'anthropic') {
  const res = await post(path, body);
  expect(res.status).toBe(200);
  if (res.body === null) throw new Error('no body');
  const metered = meter(res.body, { format, contentType: res.headers.get('content-type') });
  const text = decode(await readAll(metered.stream));
  return { res, text, usage: finalUsage(await metered.reading) };
}

// 'Say hello to the world' = 22 characters: ceil(22 / 4) = 6, plus 3 for the one message.
const messages = [{ role: 'user', content: 'Say hello to the world' }];

describe('metering the demo upstream', () => {
  it('meters a streamed OpenAI completion from its usage chunk', async () => {
    const body = { model: 'demo', messages, max_tokens: 5, stream: true, stream_options: { include_usage: true } };
    const { res, text, usage } = await meterFetch('/v1/chat/completions', body, 'openai');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text.match(/"delta":\{"content":"( ?ok)"\}/g)).toHaveLength(5);
    expect(usage).toEqual({ input: 9, output: 5 });
  });

  it('reports no usage for an OpenAI stream that did not ask for include_usage', async () => {
    const { text, usage } = await meterFetch('/v1/chat/completions', { model: 'demo', messages, stream: true }, 'openai');
    expect(text).not.toContain('"usage"');
    expect(usage).toBeNull();
  });

  it('meters a streamed Anthropic message from message_start and message_delta', async () => {
    const { text, usage } = await meterFetch('/v1/messages', { model: 'demo', messages, max_tokens: 7, stream: true }, 'anthropic');
    expect(text.startsWith('event: message_start\ndata: {"type":"message_start"')).toBe(true);
    expect(text).toContain('event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":7}}\n\n');
    expect(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n')).toBe(true);
    expect(usage).toEqual({ input: 9, output: 7 });
  });

  it('meters JSON completions of both formats, capped at 16 output tokens', async () => {
    const openai = await meterFetch('/v1/chat/completions', { model: 'demo', messages, max_completion_tokens: 100 }, 'openai');
    expect(JSON.parse(openai.text)).toMatchObject({ object: 'chat.completion', usage: { prompt_tokens: 9, completion_tokens: 16, total_tokens: 25 } });
    expect(openai.usage).toEqual({ input: 9, output: 16 });
    const anthropic = await meterFetch('/v1/messages', { model: 'demo', system: 'Be brief.', messages }, 'anthropic');
    // The system prompt adds 9 characters and one message: ceil(31 / 4) + 3 × 2 = 14.
    expect(JSON.parse(anthropic.text)).toMatchObject({ type: 'message', stop_reason: 'end_turn', usage: { input_tokens: 14, output_tokens: 16 } });
    expect(anthropic.usage).toEqual({ input: 14, output: 16 });
  });

  it('the reservation for a demo request equals the usage the demo reports', async () => {
    const message = fc.record({ role: fc.constantFrom('user', 'assistant'), content: fc.string({ unit: 'binary', maxLength: 60 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 16 }), async (msgs, max) => {
        const body = { model: 'demo', messages: msgs, max_tokens: max, stream: true, stream_options: { include_usage: true } };
        const { usage } = await meterFetch('/v1/chat/completions', body, 'openai');
        expect(usage).not.toBeNull();
        const cost = openAiChat.cost!(body);
        expect(cost.input + (cost.maxOutput ?? 0)).toBe((usage?.input ?? 0) + (usage?.output ?? 0));
      }),
      { numRuns: 25 },
    );
  });

  it('answers invalid JSON with the error shape of the real APIs, which meters as no usage', async () => {
    const openai = await post('/v1/chat/completions', '{"model": ');
    expect(openai.status).toBe(400);
    const openaiBody = await openai.text();
    expect(JSON.parse(openaiBody)).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect((await meterChunks([bytes(openaiBody)], { format: 'openai', contentType: openai.headers.get('content-type') })).usage).toBeNull();
    const anthropic = await post('/v1/messages', 'not json');
    expect(anthropic.status).toBe(400);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
});

describe('chunking the demo upstream real streams', () => {
  const captured: { format: 'openai' | 'anthropic'; raw: Uint8Array; contentType: string | null }[] = [];
  beforeAll(async () => {
    const chat = await post('/v1/chat/completions', { model: 'demo', messages, stream: true, stream_options: { include_usage: true } });
    captured.push({ format: 'openai', raw: new Uint8Array(await chat.arrayBuffer()), contentType: chat.headers.get('content-type') });
    const msg = await post('/v1/messages', { model: 'demo', messages, max_tokens: 16, stream: true });
    captured.push({ format: 'anthropic', raw: new Uint8Array(await msg.arrayBuffer()), contentType: msg.headers.get('content-type') });
  });

  it('any chunking of the demo streams of both formats yields the same usage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), fc.array(fc.nat(), { maxLength: 50 }), async (which, cuts) => {
        const c = captured[which];
        if (c === undefined) throw new Error('stream not captured');
        const chunks = splitAt(c.raw, cuts.map((x) => x % (c.raw.length + 1)));
        const { received, usage } = await meterChunks(chunks, { format: c.format, contentType: c.contentType });
        expect(received).toEqual(c.raw);
        expect(usage).toEqual({ input: 9, output: 16 });
      }),
      { numRuns: 200 },
    );
  });
});

describe('demo upstream utilities', () => {
  it('describes the request it received', async () => {
    const res = await fetch(`${base()}/some/path?a=1&b=two`, { method: 'PUT', headers: { 'X-Custom': 'v' }, body: 'héllo' });
    expect(await res.json()).toMatchObject({ method: 'PUT', path: '/some/path', query: 'a=1&b=two', headers: { 'x-custom': 'v' }, body: 'héllo' });
    const bare = await fetch(`${base()}/`);
    expect(await bare.json()).toMatchObject({ method: 'GET', path: '/', query: '', body: '' });
  });

  it('a slow stream reaches the metered client chunk by chunk', async () => {
    const res = await fetch(`${base()}/slow-stream?chunks=3&interval_ms=300`);
    if (res.body === null) throw new Error('no body');
    const metered = meter(res.body, { format: 'openai', contentType: res.headers.get('content-type') });
    const reader = metered.stream.getReader();
    const first = await reader.read();
    const firstAt = Date.now();
    expect(decode(first.value ?? new Uint8Array())).toBe('chunk-1\n');
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decode(r.value);
    expect(rest).toBe('chunk-2\nchunk-3\n');
    // The upstream needs 600 ms after its first chunk; had anything held the body until the
    // end, the client would get the first chunk only then.
    expect(Date.now() - firstAt).toBeGreaterThanOrEqual(400);
    expect(finalUsage(await metered.reading)).toBeNull();
  });

  it('answers with the requested status, usage header and delay, and echoes a body', async () => {
    expect((await fetch(`${base()}/status/429`)).status).toBe(429);
    const usage = await fetch(`${base()}/usage-header?units=42`);
    expect(usage.headers.get('x-usage-units')).toBe('42');
    const started = Date.now();
    expect(await (await fetch(`${base()}/delay?ms=120`)).json()).toEqual({ delayed_ms: 120 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    const echo = await fetch(`${base()}/echo-body`, { method: 'POST', headers: { 'content-type': 'text/x-demo' }, body: 'round trip' });
    expect(echo.headers.get('content-type')).toBe('text/x-demo');
    expect(await echo.text()).toBe('round trip');
  });
});

describe('the demo upstream survives any request', () => {
  const PATHS = ['/hop-headers', '/hop-headers?connection=close', '/slow-stream?chunks=2&interval_ms=1', '/delay?ms=1', '/usage-header?units=3', '/echo-body', '/status/200', '/status/204', '/status/503', '/v1/chat/completions', '/v1/messages', '/anything?x=1'];
  const alive = async () => expect((await fetch(`${base()}/status/200`)).status).toBe(200);

  it('answers HEAD /hop-headers with its headers and no body, and keeps serving', async () => {
    const res = await fetch(`${base()}/hop-headers`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kept')).toBe('yes');
    expect(await res.text()).toBe('');
    await alive();
  });

  it('answers every path with every method, bodies or none, and keeps serving', async () => {
    const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS');
    const body = fc.option(fc.oneof(fc.string(), fc.constant('{"messages":'), fc.constant('{"messages":[],"max_tokens":-1}')), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(method, fc.constantFrom(...PATHS), body, async (m, path, b) => {
        const withBody = b !== undefined && m !== 'GET' && m !== 'HEAD';
        const res = await fetch(`${base()}${path}`, { method: m, body: withBody ? b : undefined });
        await res.arrayBuffer();
        expect(res.status).toBeGreaterThanOrEqual(200);
        expect(res.status).toBeLessThan(600);
      }),
      { numRuns: 60, seed: 15 },
    );
    await alive();
  });

  it('keeps serving after malformed HTTP: a broken chunked body, request trailers, a hang-up mid-body', async () => {
    const { connect } = await import('cloudflare:sockets');
    const raw = async (request: string) => {
      const socket = connect({ hostname: '127.0.0.1', port: Number(inject('upstreamPort')) });
      const writer = socket.writable.getWriter();
      await writer.write(new TextEncoder().encode(request));
      await writer.close();
      // Whatever comes back (a 400 from Node's parser, an answer, or a closed socket) is fine.
      const reader = socket.readable.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read());
      await socket.close().catch(() => {});
    };
    await raw('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n');
    await raw('POST /echo-body HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ntrailer: x-t\r\nconnection: close\r\n\r\n2\r\nhi\r\n0\r\nx-t: 1\r\n\r\n');
    await raw('POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{"messa');
    await raw('HEAD /hop-headers HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    await raw('GET /\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n');
    await alive();
  });
});
