// Prepaid credits through the gateway, on both stores: each admitted request costs the
// route's `cost`, 429 credits_exhausted when spent, the balance in headers and usage, and
// the admin credits endpoint.

import { describe, expect, it } from 'vitest';
import { bearer, upstreamOrigin } from '../harness/gateway';
import { awayFromMinuteEdge, errorOf, gateway, STORE_KINDS } from '../limits/stores';

const origin = () => upstreamOrigin();

describe.each(STORE_KINDS)('credits through the gateway (%s store)', (kind) => {
  it("each request costs the route's cost; a spent key gets 429 credits_exhausted and the balance shows in headers and usage", async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/cheap', upstream: origin() }, { path: '/dear', upstream: origin(), cost: 3 }] });
    const { key, id } = await gw.createKey({ credits: { remaining: 5 } });
    const first = await gw.call('/cheap/x', { headers: bearer(key) });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-credits-remaining')).toBe('4');
    const dear = await gw.call('/dear/x', { headers: bearer(key) });
    expect(dear.headers.get('x-credits-remaining')).toBe('1');
    const refused = await gw.call('/dear/x', { headers: bearer(key) });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-credits-remaining')).toBe('1');
    const error = await errorOf(refused);
    expect(error.code).toBe('credits_exhausted');
    expect(error.details).toMatchObject({ remaining: 1, refill_at: null });
    expect((await gw.call('/cheap/x', { headers: bearer(key) })).status).toBe(200);
    expect((await gw.call('/cheap/x', { headers: bearer(key) })).status).toBe(429);
    expect((await gw.usage(id)).credits).toEqual({ remaining: 0, refill_at: null });
  });

  it('POST /admin/keys/{id}/credits adds to or sets the balance; keys without credits get 409', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    const { key, id } = await gw.createKey({ credits: { remaining: 1, refill: { amount: 10, interval: 'month' } } });
    // The monthly refill: a month's start (a minute edge) after the first request would refill the balance.
    await awayFromMinuteEdge();
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(429);
    const added = await gw.admin(`/keys/${id}/credits`, { method: 'POST', json: { add: 2 } });
    expect(added.status).toBe(200);
    expect(await added.json()).toMatchObject({ key_id: id, remaining: 2 });
    expect((await gw.call('/api/x', { headers: bearer(key) })).headers.get('x-credits-remaining')).toBe('1');
    expect(await (await gw.admin(`/keys/${id}/credits`, { method: 'POST', json: { set: 7 } })).json()).toMatchObject({ remaining: 7 });
    expect((await gw.usage(id)).credits?.remaining).toBe(7);
    expect((await gw.admin(`/keys/${id}/credits`, { method: 'POST', json: { add: -1 } })).status).toBe(400);
    expect((await gw.admin(`/keys/${id}/credits`, { method: 'POST', json: { add: 1, set: 1 } })).status).toBe(400);
    expect((await gw.admin(`/keys/${id}/credits`, { method: 'POST', json: { set: 1e13 } })).status).toBe(400);
    const plain = await gw.createKey();
    expect((await gw.admin(`/keys/${plain.id}/credits`, { method: 'POST', json: { add: 1 } })).status).toBe(409);
  });

  it('a route cost outside bounds is a configuration error', async () => {
    for (const cost of [-1, 1.5, 1_000_001]) {
      const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin(), cost }] });
      const res = await gw.call('/api/x');
      expect(res.status).toBe(500);
      const error = await errorOf(res);
      expect(error.code).toBe('config_invalid');
      expect(error.message).toContain('ROUTES[0].cost');
    }
  });
});
