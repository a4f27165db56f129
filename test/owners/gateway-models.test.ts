// Model allowlists (`models` on a key and on an owner) through the gateway, on both stores:
// refused models get 403 model_not_allowed before any store call and consume nothing.

import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { bearer, upstreamOrigin } from '../harness/gateway';
import { awayFromMinuteEdge, chatBody, errorOf, gateway, postJson, STORE_KINDS, windowOf } from '../limits/stores';
import { modelAllowed, modelAllowlist } from '../../src/limits/model-allowlist';
import { normaliseModel } from '../../src/limits/model-match';

const origin = () => upstreamOrigin();
const CHAT = '/llm/v1/chat/completions';

describe.each(STORE_KINDS)('model allowlists through the gateway (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  it("a key's models admit listed names and families (normalised like PRICES) and refuse others without counting them", async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), limits: { rpm: 10 }, metering: { format: 'auto' } }] });
    const { key, id } = await gw.createKey({ models: ['gpt-4o*', 'claude-3-haiku'] });
    for (const model of ['gpt-4o-mini', ' GPT-4o ', 'claude-3-haiku']) {
      const res = await gw.call(CHAT, postJson(key, chatBody({ model, max_tokens: 5 })));
      await res.text();
      expect(res.status, model).toBe(200);
    }
    for (const model of ['gpt-4', 'claude-3-haiku-2', 'o1']) {
      const res = await gw.call(CHAT, postJson(key, chatBody({ model, max_tokens: 5 })));
      expect(res.status, model).toBe(403);
      const error = await errorOf(res);
      expect(error.code).toBe('model_not_allowed');
      expect(error.details).toMatchObject({ holder: 'key' });
    }
    // A metered request without a model is refused while the key has a list.
    const none = await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 5 })));
    expect((await errorOf(none)).code).toBe('model_not_allowed');
    // Only the three admitted requests were counted.
    expect(windowOf(await gw.usage(id), 'rpm').used).toBe(3);
  });

  it('a key without models (or with an empty list) may call any model, and a metered request without one', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), metering: { format: 'auto' } }] });
    const plain = await gw.createKey();
    const empty = await gw.createKey({ models: [] });
    for (const k of [plain.key, empty.key]) {
      expect((await gw.call(CHAT, postJson(k, chatBody({ model: 'anything-at-all', max_tokens: 5 })))).status).toBe(200);
      expect((await gw.call(CHAT, postJson(k, chatBody({ max_tokens: 5 })))).status).toBe(200);
    }
  });

  it("an owner's models bind every key of the owner, on routes without metering too", async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    const owner = `models-${crypto.randomUUID().slice(0, 8)}`;
    expect((await gw.admin(`/owners/${owner}`, { method: 'PUT', json: { models: ['gpt-4o-mini'] } })).status).toBe(200);
    const { key } = await gw.createKey({ owner });
    const ok = await gw.call('/api/v1/chat/completions', postJson(key, chatBody({ model: 'gpt-4o-mini' })));
    expect(ok.status).toBe(200);
    const no = await gw.call('/api/v1/chat/completions', postJson(key, chatBody({ model: 'gpt-4o' })));
    expect(no.status).toBe(403);
    expect((await errorOf(no)).details).toMatchObject({ holder: 'owner' });
    // Not a model call: passes.
    expect((await gw.call('/api/v1/models', { headers: bearer(key) })).status).toBe(200);
  });

  it('models are validated like PRICES names, updated with PATCH and cleared with null', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), metering: { format: 'auto' } }] });
    expect((await gw.admin('/keys', { method: 'POST', json: { models: ['GPT-4o'] } })).status).toBe(400);
    expect((await gw.admin('/keys', { method: 'POST', json: { models: ['gpt-*-mini'] } })).status).toBe(400);
    expect((await gw.admin('/keys', { method: 'POST', json: { models: Array.from({ length: 101 }, (_, i) => `m${i}`) } })).status).toBe(400);
    const { key, id } = await gw.createKey({ models: ['a-model'] });
    expect((await gw.call(CHAT, postJson(key, chatBody({ model: 'b-model' })))).status).toBe(403);
    const patched = await gw.admin(`/keys/${id}`, { method: 'PATCH', json: { models: ['b-model'] } });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { models: string[] }).models).toEqual(['b-model']);
    expect((await gw.call(CHAT, postJson(key, chatBody({ model: 'b-model' })))).status).toBe(200);
    expect((await gw.admin(`/keys/${id}`, { method: 'PATCH', json: { models: null } })).status).toBe(200);
    expect((await gw.call(CHAT, postJson(key, chatBody({ model: 'c-model' })))).status).toBe(200);
  });
});

describe('the allowlist rule', () => {
  it('allows a model exactly when its normalised name is listed or under a listed family (property)', () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,12}$/);
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 5 }), fc.array(name, { maxLength: 3 }), fc.string({ maxLength: 20 }), (exact, families, model) => {
        const list = modelAllowlist([...exact, ...families.map((f) => `${f}*`)]);
        const m = normaliseModel(model);
        const expected = exact.includes(m) || families.some((f) => m.startsWith(f));
        expect(modelAllowed(list, model, true)).toBe(expected);
      }),
    );
  });

  it('without a list every model passes, and a request without a model passes unless metered', () => {
    expect(modelAllowed(null, null, true)).toBe(true);
    expect(modelAllowed(modelAllowlist(['x']), null, false)).toBe(true);
    expect(modelAllowed(modelAllowlist(['x']), null, true)).toBe(false);
    expect(modelAllowed(modelAllowlist(['*']), 'anything', true)).toBe(true);
  });
});
