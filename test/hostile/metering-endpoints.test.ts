// Issue 8 #2: every endpoint the official OpenAI and Anthropic SDKs call with token usage is
// metered, a path keygate cannot meter is refused (or reserved in full), and nothing that
// would read as "no usage" is cheaper than what the request may cost.
import { inject } from 'vitest';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Echo } from '../harness/gateway';
import { bearer, upstreamOrigin } from '../harness/gateway';
import { awayFromMinuteEdge, errorOf, gateway, postJson, STORE_KINDS, windowOf, type Gateway } from '../limits/stores';

const hostile = () => `http://127.0.0.1:${inject('hostileUpstreamPort')}`;

async function hits(path: string): Promise<number> {
  const res = await fetch(`${hostile()}/__hits?path=${encodeURIComponent(path)}`);
  return ((await res.json()) as { hits: number }).hits;
}

function llm(kind: (typeof STORE_KINDS)[number]): Gateway {
  return gateway(kind, {
    ROUTES: [
      { path: '/ai', upstream: hostile(), limits: { tpm: 10_000_000 }, metering: { default_reservation: 100, max_reservation: 5000 } },
      { path: '/lenient', upstream: hostile(), limits: { tpm: 10_000_000 }, metering: { unknown: 'reserve', default_reservation: 100, max_reservation: 5000 } },
      { path: '/demo', upstream: upstreamOrigin(), limits: { tpm: 10_000_000 }, metering: { format: 'openai', paths: ['/v1/chat/completions', '/echo'] } },
    ],
  });
}

const tpmUsed = async (gw: Gateway, id: string) => windowOf(await gw.usage(id), 'tpm').used;
const prompt = [{ role: 'user', content: 'Say ok' }];

describe.each(STORE_KINDS)('metered endpoints (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  it('charges a Responses API JSON answer the 20,000 + 30,000 tokens it reported, not default_reservation', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/ai/v1/responses', postJson(key, JSON.stringify({ model: 'gpt-x', input: 'Say ok' })));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { total_tokens: number } }).usage.total_tokens).toBe(50_000);
    expect(await tpmUsed(gw, id)).toBe(50_000);
  });

  it('charges a streamed Responses API answer the usage of its response.completed event', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/ai/v1/responses', postJson(key, JSON.stringify({ model: 'gpt-x', input: 'Say ok', stream: true })));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('event: response.completed');
    expect(await tpmUsed(gw, id)).toBe(50_000);
  });

  it('charges embeddings their prompt tokens', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/ai/v1/embeddings', postJson(key, JSON.stringify({ model: 'text-embedding-3-small', input: 'x'.repeat(4000) })));
    expect(res.status).toBe(200);
    expect(await tpmUsed(gw, id)).toBe(8);
  });

  it('charges an Anthropic message batch what all its requests may cost, and keeps it', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    // 'abcd' = 1 token + 3 per message, max_tokens 4096: 4100 per request.
    const requests = Array.from({ length: 100 }, (_, i) => ({ custom_id: `r${i}`, params: { model: 'claude-x', max_tokens: 4096, messages: [{ role: 'user', content: 'abcd' }] } }));
    const res = await gw.call('/ai/v1/messages/batches', postJson(key, JSON.stringify({ requests })));
    expect(res.status).toBe(200);
    expect(await tpmUsed(gw, id)).toBe(100 * 4100);
  });

  it('counts tokens for free', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/ai/v1/messages/count_tokens', postJson(key, JSON.stringify({ model: 'claude-x', messages: prompt })));
    expect(res.status).toBe(200);
    expect(await tpmUsed(gw, id)).toBe(0);
  });

  it('refuses an endpoint it cannot meter with 403 endpoint_not_metered, before the upstream and the store', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const before = await hits('/v1/batches');
    for (const path of ['/ai/v1/batches', '/ai/v1/chat/completions/', '/ai/v1/Chat/Completions']) {
      const res = await gw.call(path, postJson(key, JSON.stringify({ model: 'gpt-x', messages: prompt })));
      expect(res.status, path).toBe(403);
      expect((await errorOf(res)).code).toBe('endpoint_not_metered');
    }
    expect(await hits('/v1/batches')).toBe(before);
    expect(await tpmUsed(gw, id)).toBe(0);
  });

  it('with unknown = "reserve", charges an unlisted endpoint its full reservation and keeps it', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/lenient/v1/batches', postJson(key, JSON.stringify({ input_file_id: 'file-1', endpoint: '/v1/chat/completions' })));
    expect(res.status).toBe(200);
    // No maximum in the request: max_reservation.
    expect(await tpmUsed(gw, id)).toBe(5000);
  });

  it('asks for stream usage whatever truthy spelling of `stream` the client uses', async () => {
    const gw = llm(kind);
    const { key } = await gw.createKey();
    for (const stream of [true, 'true', 'True', 1, '1', 'yes', 'on']) {
      const res = await gw.call('/demo/echo', postJson(key, JSON.stringify({ model: 'gpt-x', messages: prompt, stream, stream_options: { include_usage: false } })));
      const echo = (await res.json()) as Echo;
      expect(JSON.parse(echo.body), JSON.stringify(stream)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    }
    for (const stream of [false, 'false', 0, '0', null]) {
      const res = await gw.call('/demo/echo', postJson(key, JSON.stringify({ model: 'gpt-x', messages: prompt, stream })));
      expect(JSON.parse(((await res.json()) as Echo).body).stream_options, JSON.stringify(stream)).toBeUndefined();
    }
  });

  it('a CORS preflight of a metered endpoint is free', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/ai/v1/chat/completions', { method: 'OPTIONS', headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(await tpmUsed(gw, id)).toBe(0);
  });

  it('a model list through a metered route is free, not refused', async () => {
    const gw = llm(kind);
    const { key, id } = await gw.createKey();
    const res = await gw.call('/ai/v1/models', { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(await tpmUsed(gw, id)).toBe(0);
  });
});
