// A key holder chooses the model string. Whatever it is (`constructor`, `__proto__`, any
// Unicode), the price and every counter stay finite integers, the request is admitted or
// refused by its limits like any other, and nothing it does opens the store's circuit breaker
// for other keys. Model names are matched case-insensitively, trimmed, and by family.

import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, upstreamOrigin, type ErrorJson } from '../harness/gateway';
import { awayFromMinuteEdge, chatBody, errorOf, gateway, postJson, PROMPT_TOKENS, STORE_KINDS, windowOf } from '../limits/stores';
import { clientModel } from '../limits/model-names';

const CHAT = '/llm/v1/chat/completions';
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'];

describe.each(STORE_KINDS)('hostile model names (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  const llmGateway = () =>
    gateway(kind, {
      ROUTES: [
        {
          path: '/llm',
          upstream: upstreamOrigin(),
          limits: { rpm: 1_000, tpm: 10_000_000 },
          model_limits: { 'gpt-4o*': { rpm: 1_000 } },
          budget: { usd: 1_000, period: 'day' },
          metering: { format: 'openai' },
        },
      ],
      PRICES: { 'gpt-4o': { input: 2.5, output: 10 } },
    });

  it('admits prototype-named models normally and leaves the breaker closed: another key with rpm=2 still gets exactly 2 of 6', async () => {
    const gw = llmGateway();
    const { key, id } = await gw.createKey();
    for (let round = 0; round < 3; round++) {
      for (const model of PROTOTYPE_NAMES) {
        const res = await gw.call(CHAT, postJson(key, chatBody({ model, max_tokens: 4 })));
        expect(res.status).toBe(200);
        expect(res.headers.get('server-timing')).toContain(`store;desc="${kind}"`);
      }
    }
    const view = await gw.usage(id);
    expect(windowOf(view, 'rpm').used).toBe(3 * PROTOTYPE_NAMES.length);
    // Charged at DEFAULT_PRICE, a finite amount.
    expect(Number.isFinite(view.budget?.spent_usd)).toBe(true);
    expect(view.budget?.spent_usd).toBeGreaterThan(0);

    const strict = await gw.createKey({ limits: { rpm: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await gw.call(CHAT, postJson(strict.key, chatBody({ model: 'constructor', max_tokens: 1 })));
      statuses.push(res.status);
      expect(res.headers.get('server-timing')).not.toMatch(/circuit_open|error|rejected/);
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
  });

  it('keeps price and counters finite integers for any model name (property)', async () => {
    const gw = llmGateway();
    const { key, id } = await gw.createKey();
    let admitted = 0;
    await fc.assert(
      fc.asyncProperty(clientModel, async (model) => {
        const res = await gw.call(CHAT, postJson(key, chatBody({ model, max_tokens: 2 })));
        expect(res.status).toBe(200);
        expect(res.headers.get('server-timing')).toContain(`store;desc="${kind}"`);
        admitted++;
      }),
      { numRuns: 25 },
    );
    const view = await gw.usage(id);
    for (const w of view.windows) expect(Number.isSafeInteger(w.used) && Number.isSafeInteger(w.remaining)).toBe(true);
    expect(windowOf(view, 'rpm').used).toBe(admitted);
    expect(Number.isSafeInteger(Math.round((view.budget?.spent_usd ?? NaN) * 1e6))).toBe(true);
  });

  it('holds GPT-4o, " gpt-4o " and gpt-4o-2024-08-06 to one gpt-4o* limit and prices them as configured', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), model_limits: { 'gpt-4o*': { rpm: 3 } }, metering: { format: 'openai' } }],
      PRICES: { 'gpt-4o*': { input: 1, output: 1 }, 'gpt-4o': { input: 2, output: 2 } },
    });
    const { key, id } = await gw.createKey({ budget: { usd: 1, period: 'total' } });
    const send = (model: string) => gw.call(CHAT, postJson(key, chatBody({ model, max_tokens: 4 })));
    expect((await send('GPT-4o-2024-08-06')).status).toBe(200);
    expect((await send(' gpt-4o-mini ')).status).toBe(200);
    expect((await send('GPT-4O')).status).toBe(200);
    const refused = await send('gpt-4o-2024-05-13');
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).details).toMatchObject({ limit: 'model:gpt-4o*:rpm', limit_value: 3 });

    // Two family members at 1 micro-USD per token, the exact name at 2.
    const tokens = PROMPT_TOKENS + 4;
    expect((await gw.usage(id)).budget?.spent_usd).toBeCloseTo((2 * tokens * 1 + tokens * 2) / 1e6, 12);
  });
});

describe('admin-configured model names', () => {
  const raw = (model: string) => `{"model_limits":{${JSON.stringify(model)}:{"rpm":1}},"models":[${JSON.stringify(model)}]}`;

  it('refuses a model limit named __proto__ with 400 instead of answering 200 and dropping it', async () => {
    // JSON.parse keeps "__proto__" as an own key, but copying it into a plain object sets the
    // prototype instead: the admin was told the limit exists while nothing enforced it.
    const headers = { 'content-type': 'application/json' };
    const owner = await admin(`/owners/proto-${crypto.randomUUID().slice(0, 8)}`, { method: 'PUT', headers, body: raw('__proto__') });
    expect(owner.status).toBe(400);
    expect(((await owner.json()) as ErrorJson).error.code).toBe('validation_failed');
    const key = await admin('/keys', { method: 'POST', headers, body: raw('__proto__').replace(/^\{/, '{"name":"proto",') });
    expect(key.status).toBe(400);
    // Other prototype names are ordinary own keys and are kept as written.
    for (const model of ['constructor', 'tostring', 'hasownproperty']) {
      const res = await admin(`/owners/proto-${crypto.randomUUID().slice(0, 8)}`, { method: 'PUT', headers, body: raw(model) });
      expect(res.status, model).toBe(200);
      expect(((await res.json()) as { model_limits: Record<string, unknown> }).model_limits).toEqual({ [model]: { rpm: 1 } });
    }
  });
});
