// Owners as limit holders through the whole gateway, on both limit stores: the admin API
// (PUT, GET, list, DELETE, usage), shared windows and budgets across an owner's keys, the
// refusal naming the holder, and exact admission under concurrency.

import { beforeEach, describe, expect, it } from 'vitest';
import type { QueueItem, RequestEvent } from '../../src/events/messages';
import { env } from 'cloudflare:workers';
import { admin, bearer, testEnv, upstreamOrigin, type ErrorJson } from '../harness/gateway';
import { capturingQueue } from '../events/queue';
import { awayFromMinuteEdge, chatBody, errorOf, gateway, postJson, STORE_KINDS, windowOf } from '../limits/stores';

const origin = () => upstreamOrigin();
const freshOwner = (label: string) => `${label} {team}/${crypto.randomUUID().slice(0, 8)}`;
const ownerPath = (owner: string) => `/owners/${encodeURIComponent(owner)}`;

describe.each(STORE_KINDS)('owners through the gateway (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  it('an owner is created, read, listed and deleted through the admin API, with bounds on its numbers', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    const owner = freshOwner('crud');
    const put = await gw.admin(ownerPath(owner), { method: 'PUT', json: { limits: { rpm: 5 }, budget: { usd: 2, period: 'day' }, model_limits: { 'gpt-4o*': { rpm: 1 } } } });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ owner, limits: { rpm: 5 }, budget: { usd: 2, period: 'day' }, model_limits: { 'gpt-4o*': { rpm: 1 } } });
    expect(await (await gw.admin(ownerPath(owner))).json()).toMatchObject({ owner, limits: { rpm: 5 } });
    const list = (await (await gw.admin('/owners?limit=200')).json()) as { owners: { owner: string }[] };
    expect(list.owners.map((o) => o.owner)).toContain(owner);
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { limits: { rpm: -1 } } })).status).toBe(400);
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { budget: { usd: 1e12, period: 'day' } } })).status).toBe(400);
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { credits: 5 } })).status).toBe(400);
    expect((await gw.admin(ownerPath(owner), { method: 'DELETE' })).status).toBe(200);
    expect((await gw.admin(ownerPath(owner))).status).toBe(404);
    expect((await gw.admin(ownerPath(owner), { method: 'DELETE' })).status).toBe(404);
  });

  it("an owner's rpm is shared by all of its keys, the refusal names the owner, and each key's own limit still applies", async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    const owner = freshOwner('shared');
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { limits: { rpm: 3 } } })).status).toBe(200);
    const a = await gw.createKey({ owner, limits: { rpm: 1 } });
    const b = await gw.createKey({ owner });
    const outsider = await gw.createKey({ owner: `${owner}-other` });

    expect((await gw.call('/api/x', { headers: bearer(a.key) })).status).toBe(200);
    const byKey = await gw.call('/api/x', { headers: bearer(a.key) });
    expect(byKey.status).toBe(429);
    expect((await errorOf(byKey)).details).toMatchObject({ holder: 'key', limit: 'rpm', limit_value: 1 });

    expect((await gw.call('/api/x', { headers: bearer(b.key) })).status).toBe(200);
    expect((await gw.call('/api/x', { headers: bearer(b.key) })).status).toBe(200);
    const byOwner = await gw.call('/api/x', { headers: bearer(b.key) });
    expect(byOwner.status).toBe(429);
    const error = await errorOf(byOwner);
    expect(error.code).toBe('rate_limited');
    expect(error.details).toMatchObject({ holder: 'owner', limit: 'rpm', limit_value: 3 });
    // Another owner's key is not counted against this one.
    expect((await gw.call('/api/x', { headers: bearer(outsider.key) })).status).toBe(200);

    const usage = (await (await gw.admin(`${ownerPath(owner)}/usage`)).json()) as Parameters<typeof windowOf>[0] & { owner: string };
    expect(usage.owner).toBe(owner);
    expect(windowOf(usage, 'rpm')).toMatchObject({ limit: 3, used: 3, remaining: 0 });
    // A key's usage reads its own windows in its owner's shard.
    expect(windowOf(await gw.usage(a.id), 'rpm')).toMatchObject({ limit: 1, used: 1 });
  });

  it("300 concurrent requests across five keys of one owner: the owner's rpm admits exactly its limit", async () => {
    await awayFromMinuteEdge(15_000); // 300 requests take longer than the default margin on a busy machine
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    const owner = freshOwner('burst');
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { limits: { rpm: 40 } } })).status).toBe(200);
    const keys = await Promise.all(Array.from({ length: 5 }, () => gw.createKey({ owner })));
    const statuses = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const res = await gw.call('/api/x', { headers: bearer(keys[i % 5]!.key) });
        await res.body?.cancel();
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    expect(statuses.filter((s) => s === 429)).toHaveLength(260);
  });

  it("an owner's budget is spent by all of its keys and refused with 402 naming the owner", async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: origin(), metering: { format: 'auto' } }],
      PRICES: { 'priced-model': { input: 1, output: 1 } },
    });
    const owner = freshOwner('budget');
    // 100 micro-USD; each request is 10 prompt + 5 completion tokens at 1 micro-USD each.
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { budget: { usd: 0.0001, period: 'total' } } })).status).toBe(200);
    const keys = await Promise.all(Array.from({ length: 3 }, () => gw.createKey({ owner })));
    const send = (i: number) => gw.call('/llm/v1/chat/completions', postJson(keys[i % 3]!.key, chatBody({ model: 'priced-model', max_tokens: 5 })));
    for (let i = 0; i < 6; i++) {
      const res = await send(i);
      await res.text();
      expect(res.status).toBe(200);
    }
    const refused = await send(6);
    expect(refused.status).toBe(402);
    const error = await errorOf(refused);
    expect(error.code).toBe('budget_exhausted');
    expect(error.details).toMatchObject({ holder: 'owner', budget_usd: 0.0001, period: 'total' });
    const usage = (await (await gw.admin(`${ownerPath(owner)}/usage`)).json()) as { budget: { usd: number; spent_usd: number } };
    expect(usage.budget.usd).toBe(0.0001);
    expect(usage.budget.spent_usd).toBeCloseTo(90 / 1e6, 12);
  });

  it('a key whose owner has no policy is counted in its own shard, as before', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin(), limits: { rpm: 2 } }] });
    const { key, id } = await gw.createKey({ owner: freshOwner('none') });
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
    expect(windowOf(await gw.usage(id), 'rpm').used).toBe(1);
  });
});

describe.each(STORE_KINDS)('owners and /admin/verify (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  it("verify with consume counts in the owner's shard: the key's usage and the owner's rpm see it", async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin(), limits: { rpm: 10 } }] });
    const owner = freshOwner('verify');
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { limits: { rpm: 2 } } })).status).toBe(200);
    const { key, id } = await gw.createKey({ owner });
    for (let i = 0; i < 2; i++) {
      const res = await gw.admin('/verify', { method: 'POST', json: { key, consume: true } });
      expect(((await res.json()) as { valid: boolean }).valid).toBe(true);
    }
    expect(windowOf(await gw.usage(id), 'rpm').used).toBe(2);
    const third = (await (await gw.admin('/verify', { method: 'POST', json: { key, consume: true } })).json()) as { valid: boolean; code: string };
    expect(third).toMatchObject({ valid: false, code: 'rate_limited' });
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(429);
  });
});

describe("request events of an owner's refusals", () => {
  it("a refusal by the owner's window is logged without naming it as the key's window (no limit.exceeded for the key)", async () => {
    const captured = capturingQueue();
    const gw = gateway('durable_object', { ROUTES: [{ path: '/api', upstream: origin() }], EVENTS: captured.queue });
    const owner = freshOwner('events');
    expect((await gw.admin(ownerPath(owner), { method: 'PUT', json: { limits: { rpm: 1 } } })).status).toBe(200);
    const key = await gw.createKey({ owner, limits: { rpm: 100 } });
    await awayFromMinuteEdge();
    expect((await gw.call('/api/x', { headers: bearer(key.key) })).status).toBe(200);
    const byOwner = await gw.call('/api/x', { headers: bearer(key.key) });
    expect((await errorOf(byOwner)).details).toMatchObject({ holder: 'owner', limit: 'rpm' });
    const events = captured.sent.map((s) => s.body).filter((m: QueueItem): m is RequestEvent => m.kind === 'request' && m.key_id === key.id);
    expect(events.map((e) => e.outcome)).toEqual(['ok', 'rate_limited']);
    expect(events[1]?.limit).toBeUndefined();
  });
});

describe('owner DELETE when the KV snapshot cannot be removed', () => {
  it('answers 503, and a retry removes the snapshot the proxy reads, so the deleted limits stop applying', async () => {
    // KV is the proxy's truth for owners: a snapshot left behind keeps enforcing a policy the
    // admin API no longer shows. The D1 row goes first, so the retry finds no row; it must
    // still remove the snapshot rather than answer 404 and leave it.
    const owner = freshOwner('half-deleted');
    const base = testEnv();
    expect((await admin(ownerPath(owner), { method: 'PUT', json: { limits: { rpm: 1 } } }, { env: base })).status).toBe(200);
    expect(await env.KEYS.get(`owner:${owner}`)).not.toBeNull();
    const failingKv = new Proxy(base.KEYS, {
      get: (t, prop) => (prop === 'delete' ? () => Promise.reject(new Error('KV unavailable')) : (Reflect.get(t, prop) as unknown as (...a: unknown[]) => unknown).bind?.(t) ?? Reflect.get(t, prop)),
    });
    const failed = await admin(ownerPath(owner), { method: 'DELETE' }, { env: { ...base, KEYS: failingKv } });
    expect(failed.status).toBe(503);
    expect(((await failed.json()) as ErrorJson).error.message).not.toContain('saved');
    const retry = await admin(ownerPath(owner), { method: 'DELETE' }, { env: base });
    expect([200, 404]).toContain(retry.status);
    expect(await env.KEYS.get(`owner:${owner}`)).toBeNull();
  });
});
