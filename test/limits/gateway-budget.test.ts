// Spend budgets through the gateway, on both limit stores: requests pass until the budget is
// spent, then 402; every model is charged, priced ones at PRICES and the rest at DEFAULT_PRICE.

import { beforeEach, describe, expect, it } from 'vitest';
import { upstreamOrigin } from '../harness/gateway';
import { awayFromMinuteEdge, chatBody, errorOf, gateway, postJson, PROMPT_TOKENS, STORE_KINDS } from './stores';

const CHAT = '/llm/v1/chat/completions';
// Micro-USD per token = USD per million tokens.
const PRICES = { 'priced-model': { input: 1, output: 1 } };
const DEFAULT_PRICE = { input: 10, output: 30 };

describe.each(STORE_KINDS)('spend budgets through the gateway (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  it('passes requests until a tiny total budget is spent, then answers 402 budget_exhausted', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), budget: { usd: 0.0001, period: 'total' }, metering: { format: 'auto' } }],
      PRICES,
      DEFAULT_PRICE,
    });
    const { key, id } = await gw.createKey();
    // 10 prompt + 5 completion tokens at 1 micro-USD each: 15 of the 100 micro-USD per request.
    const send = () => gw.call(CHAT, postJson(key, chatBody({ model: 'priced-model', max_tokens: 5 })));
    for (let i = 1; i <= 6; i++) {
      const res = await send();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-budget-limit-usd')).toBe('0.000100');
      expect(res.headers.get('x-budget-remaining-usd')).toBe(((100 - 15 * i) / 1e6).toFixed(6));
    }
    const refused = await send();
    expect(refused.status).toBe(402);
    const error = await errorOf(refused);
    expect(error.code).toBe('budget_exhausted');
    expect(error.details).toMatchObject({ budget_usd: 0.0001, period: 'total' });
    expect(error.details?.spent_usd).toBeCloseTo(90 / 1e6, 12);
    // A total budget never resets, so there is nothing to wait for.
    expect(refused.headers.get('retry-after')).toBeNull();

    const view = await gw.usage(id);
    expect(view.budget).toMatchObject({ usd: 0.0001, period: 'total', reset: null });
    expect(view.budget?.spent_usd).toBeCloseTo(90 / 1e6, 12);
    expect(view.budget?.remaining_usd).toBeCloseTo(10 / 1e6, 12);
  });

  it('charges a model without a price at DEFAULT_PRICE, never for free', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), metering: { format: 'auto' } }], PRICES, DEFAULT_PRICE });
    const spentFor = async (model: string | undefined) => {
      const { key, id } = await gw.createKey({ budget: { usd: 1, period: 'total' } });
      expect((await gw.call(CHAT, postJson(key, chatBody({ model, max_tokens: 5 })))).status).toBe(200);
      return (await gw.usage(id)).budget?.spent_usd;
    };
    const priced = await spentFor('priced-model');
    const unpriced = await spentFor('unpriced-model');
    const unnamed = await spentFor(undefined);

    expect(priced).toBeCloseTo((PROMPT_TOKENS * 1 + 5 * 1) / 1e6, 12);
    expect(unpriced).toBeCloseTo((PROMPT_TOKENS * DEFAULT_PRICE.input + 5 * DEFAULT_PRICE.output) / 1e6, 12);
    expect(unnamed).toBeCloseTo((PROMPT_TOKENS * DEFAULT_PRICE.input + 5 * DEFAULT_PRICE.output) / 1e6, 12);
    expect(unpriced).toBeGreaterThan(priced ?? Infinity);
  });

  it('names the budget period in the 402 message', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), budget: { usd: 0.0001, period: 'day' }, metering: { format: 'auto' } }],
      PRICES,
      DEFAULT_PRICE,
    });
    const { key } = await gw.createKey();
    const res = await gw.call(CHAT, postJson(key, chatBody({ model: 'unpriced-model', max_tokens: 500 })));
    expect(res.status).toBe(402);
    expect((await errorOf(res)).message).toContain('daily budget');
  });

  it('refuses with 402 before forwarding when the reservation alone would overspend', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), limits: { rpm: 10 }, budget: { usd: 0.0001, period: 'day' }, metering: { format: 'auto' } }],
      PRICES,
      DEFAULT_PRICE,
    });
    const { key, id } = await gw.createKey();
    // 10 + 500 tokens at DEFAULT_PRICE's dearer rate (30): 15,300 micro-USD > 100.
    const res = await gw.call(CHAT, postJson(key, chatBody({ model: 'unpriced-model', max_tokens: 500 })));
    expect(res.status).toBe(402);
    expect((await errorOf(res)).code).toBe('budget_exhausted');
    // A daily budget resets at midnight UTC: the client is told when to come back.
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // All or nothing: the refused request took no request window and no spend.
    const view = await gw.usage(id);
    expect(view.windows.find((w) => w.name === 'rpm')?.used).toBe(0);
    expect(view.budget?.spent_usd).toBe(0);
  });
  it('carries RateLimit-Policy and RateLimit for the budget on a budget-only route, on every admitted response and on the 402', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), budget: { usd: 0.0001, period: 'day' }, metering: { format: 'auto' } }],
      PRICES,
      DEFAULT_PRICE,
    });
    const { key } = await gw.createKey();
    const send = () => gw.call(CHAT, postJson(key, chatBody({ model: 'priced-model', max_tokens: 5 })));
    // The budget's quota and remaining are in micro-USD; its window is the UTC day.
    const admitted = await send();
    expect(admitted.status).toBe(200);
    expect(admitted.headers.get('ratelimit-policy')).toBe('"budget";q=100;w=86400');
    expect(admitted.headers.get('ratelimit')).toMatch(/^"budget";r=85;t=\d+$/);
    let refused = admitted;
    for (let i = 0; i < 10 && refused.status === 200; i++) refused = await send();
    expect(refused.status).toBe(402);
    expect(refused.headers.get('ratelimit-policy')).toBe('"budget";q=100;w=86400');
    expect(refused.headers.get('ratelimit')).toMatch(/^"budget";r=10;t=\d+$/);
    expect(refused.headers.get('x-budget-remaining-usd')).toBe('0.000010');
  });

  it('lists the tightest window and the budget when a route has both', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), limits: { rpm: 10 }, budget: { usd: 1, period: 'total' }, metering: { format: 'auto' } }],
      PRICES,
      DEFAULT_PRICE,
    });
    const { key } = await gw.createKey();
    const res = await gw.call(CHAT, postJson(key, chatBody({ model: 'priced-model', max_tokens: 5 })));
    expect(res.status).toBe(200);
    // A total budget has no window and never resets.
    expect(res.headers.get('ratelimit-policy')).toBe('"rpm";q=10;w=60, "budget";q=1000000');
    expect(res.headers.get('ratelimit')).toMatch(/^"rpm";r=9;t=\d+, "budget";r=999985$/);
  });
  it('admits under the largest budget and token limit the schema allows, without a store error', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), metering: { format: 'auto' } }], PRICES, DEFAULT_PRICE });
    const { key } = await gw.createKey({ budget: { usd: 1e9, period: 'day' }, limits: { tpm: 1e12 } });
    for (let i = 0; i < 2; i++) {
      const res = await gw.call(CHAT, postJson(key, chatBody({ model: 'priced-model', max_tokens: 5 })));
      expect(res.status).toBe(200);
      expect(res.headers.get('server-timing')).toContain(`store;desc="${kind}"`);
    }
  });
});
