// Token metering through the gateway and the real demo upstream, on both limit stores: the
// reservation taken at admission is settled to the usage the upstream reported (OpenAI and
// Anthropic, JSON and SSE, a usage header), kept when no usage is reported, and settled to
// what was streamed when the client leaves early. Also the body rules of metered routes.

import { beforeEach, describe, expect, it } from 'vitest';
import type { Echo } from '../harness/gateway';
import { bearer, upstreamOrigin } from '../harness/gateway';
import {
  awayFromMinuteEdge,
  chatBody,
  demoCompletion,
  errorOf,
  gateway,
  postJson,
  PROMPT_TOKENS,
  sseEvents,
  STORE_KINDS,
  windowOf,
  type Gateway,
} from './stores';

const origin = () => upstreamOrigin();
const OPENAI = '/llm/v1/chat/completions';
const ANTHROPIC = '/llm/v1/messages';
const DEFAULT_RESERVATION = 300;

function llmGateway(kind: (typeof STORE_KINDS)[number]): Gateway {
  return gateway(kind, {
    ROUTES: [
      { path: '/llm', upstream: origin(), limits: { rpm: 1000, tpm: 100_000 }, metering: { format: 'auto', default_reservation: DEFAULT_RESERVATION } },
      { path: '/units', upstream: origin(), limits: { tpm: 100_000 }, metering: { format: 'header', header: 'x-usage-units', default_reservation: 1 } },
      // Extra paths metered with the OpenAI chat format: the demo's echo and status pages.
      { path: '/oai', upstream: origin(), limits: { rpm: 1000, tpm: 100_000 }, metering: { format: 'openai', paths: ['/v1/chat/completions', '/echo', '/status/*'], default_reservation: DEFAULT_RESERVATION } },
    ],
  });
}

const tpmUsed = async (gw: Gateway, id: string) => windowOf(await gw.usage(id), 'tpm').used;

/** OpenAI usage in a stream's chunks (the last chunk that carries one). */
function openAiStreamUsage(events: { data: string }[]): { prompt_tokens: number; completion_tokens: number } | null {
  let usage = null;
  for (const e of events) {
    if (e.data === '[DONE]') continue;
    const chunk = JSON.parse(e.data) as { usage?: { prompt_tokens: number; completion_tokens: number } | null };
    if (chunk.usage) usage = chunk.usage;
  }
  return usage;
}

describe.each(STORE_KINDS)('token metering through the gateway (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  it('settles an OpenAI JSON response to the usage the upstream reported', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call(OPENAI, postJson(key, chatBody({ max_tokens: 200 })));
    expect(res.status).toBe(200);
    const { usage } = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    expect(usage).toMatchObject({ prompt_tokens: PROMPT_TOKENS, completion_tokens: demoCompletion(200) });
    // Reserved 10 + 200, used 10 + 16: the difference was refunded.
    expect(await tpmUsed(gw, id)).toBe(usage.prompt_tokens + usage.completion_tokens);
  });

  it('asks an OpenAI stream for usage on the client’s behalf, passes a well-formed stream and settles to it', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    // The client does not ask for usage.
    const res = await gw.call(OPENAI, postJson(key, chatBody({ max_tokens: 200, stream: true })));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = sseEvents(text);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as { object: string; choices: { delta: { content?: string } }[] });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(Array(demoCompletion(200)).fill('ok').join(' '));
    // The demo upstream emits a usage chunk only when the request carried
    // stream_options.include_usage: true, which the gateway added.
    const usage = openAiStreamUsage(events);
    expect(usage).toEqual({ prompt_tokens: PROMPT_TOKENS, completion_tokens: demoCompletion(200), total_tokens: PROMPT_TOKENS + demoCompletion(200) });
    expect(await tpmUsed(gw, id)).toBe(PROMPT_TOKENS + demoCompletion(200));
  });

  it('keeps stream_options the client sent while adding include_usage', async () => {
    const gw = llmGateway(kind);
    const { key } = await gw.createKey();
    // /oai/echo is answered by the demo's request echo, which shows the forwarded body.
    const res = await gw.call('/oai/echo', postJson(key, chatBody({ stream: true, stream_options: { include_obfuscation: false } })));
    const echo = (await res.json()) as Echo;
    expect(JSON.parse(echo.body)).toMatchObject({ stream: true, stream_options: { include_obfuscation: false, include_usage: true } });
  });

  it('settles an Anthropic JSON response to the usage the upstream reported', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call(ANTHROPIC, postJson(key, chatBody({ model: 'claude-3-5-haiku', max_tokens: 300 })));
    expect(res.status).toBe(200);
    const { usage } = (await res.json()) as { usage: { input_tokens: number; output_tokens: number } };
    expect(usage).toEqual({ input_tokens: PROMPT_TOKENS, output_tokens: demoCompletion(300) });
    expect(await tpmUsed(gw, id)).toBe(usage.input_tokens + usage.output_tokens);
  });

  it('settles an Anthropic stream to the usage of message_start and message_delta', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call(ANTHROPIC, postJson(key, chatBody({ max_tokens: 300, stream: true })));
    expect(res.status).toBe(200);
    const events = sseEvents(await res.text());
    expect(events.map((e) => e.event).at(-1)).toBe('message_stop');
    const start = JSON.parse(events.find((e) => e.event === 'message_start')!.data) as { message: { usage: { input_tokens: number } } };
    const delta = JSON.parse(events.find((e) => e.event === 'message_delta')!.data) as { usage: { output_tokens: number } };
    expect(start.message.usage.input_tokens).toBe(PROMPT_TOKENS);
    expect(delta.usage.output_tokens).toBe(demoCompletion(300));
    expect(await tpmUsed(gw, id)).toBe(start.message.usage.input_tokens + delta.usage.output_tokens);
  });

  it('keeps the admission reservation when the upstream refuses the request without usage', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();

    // A model list is free: nothing reserved, nothing charged.
    const get = await gw.call('/llm/v1/models', { headers: bearer(key) });
    expect(get.status).toBe(200);
    expect(await tpmUsed(gw, id)).toBe(0);

    // An upstream error: 10 + 50 reserved, nothing reported, nothing refunded.
    const failed = await gw.call('/oai/status/500', postJson(key, chatBody({ max_tokens: 50 })));
    expect(failed.status).toBe(500);
    expect(await tpmUsed(gw, id)).toBe(PROMPT_TOKENS + 50);
  });

  it('charges the units a usage header reports in place of the reservation', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/units/usage-header?units=7', { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-usage-units')).toBe('7');
    // Reserved 1 (default_reservation), charged 6 more.
    expect(await tpmUsed(gw, id)).toBe(7);
  });

  it('keeps the reservation when a header-metered response carries no usage header', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/units/other', { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-usage-units')).toBeNull();
    // No usage reported: the reservation (1) stands, like on the LLM formats.
    expect(await tpmUsed(gw, id)).toBe(1);
  });

  it('charges an Anthropic stream the client leaves before message_delta its full reservation', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    const reservation = PROMPT_TOKENS + 1000;
    const { res, settled } = await gw.callDeferred(ANTHROPIC, postJson(key, chatBody({ max_tokens: 1000, stream: true })));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    const seen = new TextDecoder().decode(first.value);
    await reader.cancel();
    await settled;

    // What src/usage/charge.ts promises: the final message_delta count if it reached the
    // client, else message_start's input plus the larger of max_tokens and the text streamed
    // (here at most 16 tokens): never less than the reservation.
    const events = sseEvents(seen);
    const final = events.find((e) => e.event === 'message_delta');
    const expected = final ? PROMPT_TOKENS + (JSON.parse(final.data) as { usage: { output_tokens: number } }).usage.output_tokens : reservation;
    expect(await tpmUsed(gw, id)).toBe(expected);
  });

  it('charges an OpenAI stream the client leaves before its usage chunk its full reservation', async () => {
    const gw = llmGateway(kind);
    const { key, id } = await gw.createKey();
    const reservation = PROMPT_TOKENS + 1000;
    const { res, settled } = await gw.callDeferred(OPENAI, postJson(key, chatBody({ max_tokens: 1000, stream: true })));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    const seen = sseEvents(new TextDecoder().decode(first.value));
    await reader.cancel();
    await settled;

    // OpenAI reports usage only in its last chunk: if it did not reach the client, the
    // full reservation is charged; if the first read happened to hold it, that usage is.
    const usage = openAiStreamUsage(seen);
    expect(await tpmUsed(gw, id)).toBe(usage ? usage.prompt_tokens + usage.completion_tokens : reservation);
  });
});

describe.each(STORE_KINDS)('request bodies on metered and plain routes (%s store)', (kind) => {
  const bodyGateway = () =>
    gateway(kind, {
      ROUTES: [
        { path: '/llm', upstream: origin(), limits: { rpm: 100 }, metering: { format: 'auto', max_body_bytes: 256 } },
        { path: '/plain', upstream: origin(), limits: { rpm: 100 } },
      ],
    });

  it('answers 413 payload_too_large for a body over max_body_bytes, declared or streamed, and charges nothing', async () => {
    const gw = bodyGateway();
    const { key, id } = await gw.createKey();
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(300) }] });

    const declared = await gw.call(OPENAI, postJson(key, big));
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).code).toBe('payload_too_large');

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64) controller.enqueue(bytes.slice(i, i + 64));
        controller.close();
      },
    });
    const streamed = await gw.call(OPENAI, { method: 'POST', headers: bearer(key, { 'content-type': 'application/json' }), body: stream });
    expect(streamed.status).toBe(413);
    expect((await errorOf(streamed)).code).toBe('payload_too_large');

    expect(windowOf(await gw.usage(id), 'rpm').used).toBe(0);
  });

  it('answers 400 invalid_json for a body that is not JSON on a metered route', async () => {
    const gw = bodyGateway();
    const { key, id } = await gw.createKey();
    const res = await gw.call(OPENAI, postJson(key, '{"messages": [oops'));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_json');
    expect(windowOf(await gw.usage(id), 'rpm').used).toBe(0);
  });

  it('passes any body through a route without metering, unread and unlimited in size', async () => {
    const gw = bodyGateway();
    const { key } = await gw.createKey();
    const notJson = '{"messages": [oops';
    const res = await gw.call('/plain/upload', { method: 'POST', headers: bearer(key, { 'content-type': 'text/plain' }), body: notJson });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Echo).body).toBe(notJson);

    // Larger than any metered route's default cap (1 MiB).
    const large = 'y'.repeat(1_500_000);
    const bigRes = await gw.call('/plain/upload', { method: 'POST', headers: bearer(key, { 'content-type': 'text/plain' }), body: large });
    expect(bigRes.status).toBe(200);
    expect(((await bigRes.json()) as Echo).body.length).toBe(large.length);
  });
});
