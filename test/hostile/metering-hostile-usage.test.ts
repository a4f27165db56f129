// Issue 8 #3, #4 and lying upstreams: usage is read from JSON bodies of any size, a stream
// that ends without usage is charged at least what was streamed and never less than its
// reservation, and no usage an upstream reports can refund below zero or corrupt a counter.
import { inject } from 'vitest';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_TOKENS } from '../../src/usage/fields';
import { awayFromMinuteEdge, gateway, postJson, windowOf, type Gateway } from '../limits/stores';

const hostile = () => `http://127.0.0.1:${inject('hostileUpstreamPort')}`;
const MAX_RESERVATION = 2000;

function llm(): Gateway {
  return gateway('durable_object', {
    ROUTES: [{ path: '/ai', upstream: hostile(), limits: { tpm: 1e12 }, budget: { usd: 1e9, period: 'day' }, metering: { default_reservation: 100, max_reservation: MAX_RESERVATION } }],
    PRICES: { 'gpt-x': { input: 1, output: 2 } },
  });
}

const tpmUsed = async (gw: Gateway, id: string) => windowOf(await gw.usage(id), 'tpm').used;
// 'Say ok' = 6 characters: 2 tokens, plus 3 for the message.
const INPUT = 5;
const chat = (fields: Record<string, unknown> = {}) => JSON.stringify({ model: 'gpt-x', messages: [{ role: 'user', content: 'Say ok' }], ...fields });

describe('usage a hostile upstream makes hard to read', () => {
  beforeEach(() => awayFromMinuteEdge());

  it('charges the 256,010 tokens reported at the end of a JSON answer over 1 MiB', async () => {
    const gw = llm();
    const { key, id } = await gw.createKey();
    const res = await gw.call('/ai/v1/chat/completions?mode=big', postJson(key, chat({ n: 300, logprobs: true })));
    expect(res.status).toBe(200);
    const body = await res.arrayBuffer();
    expect(body.byteLength).toBeGreaterThan(1024 * 1024);
    expect(await tpmUsed(gw, id)).toBe(256_010);
  });

  it('charges a stream the client leaves after finish_reason at least the text it streamed', async () => {
    const gw = llm();
    const { key, id } = await gw.createKey();
    // No max_tokens: the reservation is INPUT + default_reservation, the full one INPUT + MAX_RESERVATION.
    const { res, settled } = await gw.callDeferred('/ai/v1/chat/completions?mode=late&delay_ms=5000', postJson(key, chat({ stream: true })));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('"finish_reason":"stop"')) {
      const { done, value } = await reader.read();
      if (done) throw new Error('stream ended before finish_reason');
      seen += new TextDecoder().decode(value);
    }
    await reader.cancel();
    await settled;
    expect(seen).not.toContain('"usage":{');
    // 40 deltas of 1,000 characters: 10,000 tokens streamed, above the 2,000-token ceiling.
    expect(await tpmUsed(gw, id)).toBe(INPUT + 10_000);
  });

  it('charges a Responses stream the client leaves before response.completed its full reservation', async () => {
    const gw = llm();
    const { key, id } = await gw.createKey();
    const { res, settled } = await gw.callDeferred('/ai/v1/responses', postJson(key, JSON.stringify({ model: 'gpt-x', input: 'Say ok', stream: true, max_output_tokens: 700 })));
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    await settled;
    // 'Say ok' = 2 tokens + 3 for the one input item; 700 the request's own maximum.
    const full = 5 + 700;
    expect(await tpmUsed(gw, id)).toBe(first.includes('response.completed') ? 50_000 : full);
  });

  const lies: [string, unknown][] = [
    ['negative counts', { prompt_tokens: -1_000_000, completion_tokens: -5 }],
    ['counts as strings', { prompt_tokens: '1', completion_tokens: '0' }],
    ['fractional counts', { prompt_tokens: 0.5, completion_tokens: 0.5 }],
    ['no counts', {}],
    ['usage that is not an object', 'none'],
  ];
  for (const [name, usage] of lies) {
    it(`charges the full reservation when the upstream reports ${name}`, async () => {
      const gw = llm();
      const { key, id } = await gw.createKey();
      const res = await gw.call(`/ai/v1/chat/completions?mode=lie&usage=${encodeURIComponent(JSON.stringify(usage))}`, postJson(key, chat({ max_tokens: 300, n: 2 })));
      expect(res.status).toBe(200);
      expect(await tpmUsed(gw, id)).toBe(INPUT + 600);
      const view = await gw.usage(id);
      expect(view.budget?.spent_usd).toBeGreaterThan(0);
    });
  }

  it('clamps absurdly large reported usage instead of overflowing counters or costs', async () => {
    const gw = llm();
    const { key, id } = await gw.createKey();
    const usage = { prompt_tokens: 1e300, completion_tokens: Number.MAX_SAFE_INTEGER };
    const res = await gw.call(`/ai/v1/chat/completions?mode=lie&usage=${encodeURIComponent(JSON.stringify(usage))}`, postJson(key, chat({ max_tokens: 300 })));
    expect(res.status).toBe(200);
    const used = await tpmUsed(gw, id);
    expect(used).toBe(2 * MAX_TOKENS);
    const view = await gw.usage(id);
    expect(Number.isFinite(view.budget?.spent_usd)).toBe(true);
    // The key still works and its counters still add up.
    const next = await gw.call('/ai/v1/chat/completions', postJson(key, chat({ max_tokens: 16 })));
    expect(next.status).toBe(200);
    expect(await tpmUsed(gw, id)).toBe(2 * MAX_TOKENS + 26);
  });
});
