// What only the Upstash store has: a network between the gateway and the store. An admission
// is one HTTP round trip to Upstash; when Upstash is unreachable each route's failure policy
// applies (request limits fail open, budgets fail closed) and a circuit breaker stops waiting
// on it. (The Durable Object store has no such failure mode to provoke.)

import { beforeEach, describe, expect, it } from 'vitest';
import { bearer, upstreamOrigin } from '../harness/gateway';
import { awayFromMinuteEdge, bridgeStats, chatBody, errorOf, gateway, postJson, PROMPT_TOKENS, windowOf } from './stores';

const CHAT = '/llm/v1/chat/completions';
/**
 * An Upstash URL nobody listens on. The breaker is shared per isolate per store URL, so each
 * test gets its own URL (a path suffix on a closed port) and with it its own breaker.
 */
function deadStore(closedPort = 9) {
  const url = `http://127.0.0.1:${closedPort}/dead/${crypto.randomUUID()}`;
  return gateway('upstash', {
    UPSTASH_REDIS_REST_URL: url,
    UPSTASH_REDIS_REST_TOKEN: 'unused',
    ROUTES: [
      { path: '/open', upstream: upstreamOrigin(), limits: { rpm: 100 } },
      { path: '/budget', upstream: upstreamOrigin(), budget: { usd: 1, period: 'day' } },
      { path: '/closed', upstream: upstreamOrigin(), limits: { rpm: 100 }, on_store_error: { requests: 'closed' } },
      { path: '/open-budget', upstream: upstreamOrigin(), budget: { usd: 1, period: 'day' }, on_store_error: { budget: 'open' } },
    ],
  });
}

describe('when the Upstash store is unreachable', () => {
  // Keys live in KV and D1, which stay up; creating one never touches the limit store.
  const keyFor = async () => (await gateway('durable_object', { ROUTES: [] }).createKey()).key;

  it('fails open on a route with only request limits', async () => {
    const gw = deadStore();
    const key = await keyFor();
    const res = await gw.call('/open/x', { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toMatch(/store;desc="upstash (error|timeout)"/);
    // Nothing was counted, so no limit headers are claimed.
    expect(res.headers.get('ratelimit')).toBeNull();
  });

  it('fails closed with 503 store_unavailable on a route with a budget', async () => {
    const gw = deadStore();
    const key = await keyFor();
    const res = await gw.call('/budget/x', { headers: bearer(key) });
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('store_unavailable');
    expect(res.headers.get('retry-after')).toBe('1');
    // A budget route may opt into failing open.
    expect((await gw.call('/open-budget/x', { headers: bearer(key) })).status).toBe(200);
  });

  it('fails closed on a route with on_store_error.requests = closed', async () => {
    const gw = deadStore();
    const key = await keyFor();
    const res = await gw.call('/closed/x', { headers: bearer(key) });
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('store_unavailable');
  });

  it('opens the circuit after 5 consecutive failures and stops asking the store', async () => {
    const gw = deadStore();
    const key = await keyFor();
    for (let i = 0; i < 5; i++) {
      const res = await gw.call('/open/x', { headers: bearer(key) });
      expect(res.status).toBe(200);
      expect(res.headers.get('server-timing')).toMatch(/store;desc="upstash (error|timeout)"/);
    }
    const res = await gw.call('/open/x', { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toContain('store;desc="upstash circuit_open"');
    // Failure policies still apply while the circuit is open.
    const budget = await gw.call('/budget/x', { headers: bearer(key) });
    expect(budget.status).toBe(503);
    expect(budget.headers.get('server-timing')).toContain('store;desc="upstash circuit_open"');
  });

  it('keeps one breaker per store URL', async () => {
    const broken = deadStore();
    const key = await keyFor();
    for (let i = 0; i < 6; i++) await broken.call('/open/x', { headers: bearer(key) });
    expect((await broken.call('/open/x', { headers: bearer(key) })).headers.get('server-timing')).toContain('circuit_open');
    const other = deadStore(19);
    expect((await other.call('/open/x', { headers: bearer(key) })).headers.get('server-timing')).toMatch(/store;desc="upstash (error|timeout)"/);
  });
});

describe('Upstash round trips per request', () => {
  beforeEach(() => awayFromMinuteEdge());

  const tagged = () => {
    const tag = `gateway-limits-${crypto.randomUUID()}`;
    const gw = gateway(
      'upstash',
      {
        ROUTES: [{ path: '/llm', upstream: upstreamOrigin(), limits: { rpm: 100, tpm: 100_000 }, budget: { usd: 10, period: 'day' }, metering: { format: 'auto' } }],
        // Equal input and output prices and max_tokens under the demo's 16: the reservation
        // equals the usage in tokens and in cost, so settlement has nothing to send.
        PRICES: { 'flat-model': { input: 1, output: 1 } },
      },
      { tag },
    );
    return { tag, gw };
  };
  const exact = (key: string, maxTokens = 5) => postJson(key, chatBody({ model: 'flat-model', max_tokens: maxTokens }));

  it('admits a request with rpm, tpm and a budget in exactly one HTTP round trip', async () => {
    const { tag, gw } = tagged();
    const { key, id } = await gw.createKey();
    // The first admission on a fresh redis-server may load the Lua scripts (NOSCRIPT, then EVAL).
    expect((await gw.call(CHAT, exact(key))).status).toBe(200);

    const before = await bridgeStats(tag);
    const res = await gw.call(CHAT, exact(key));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-budget-limit-usd')).toBe('10.000000');
    const after = await bridgeStats(tag);
    expect(after.httpRequests - before.httpRequests).toBe(1);
    expect(after.byPath['/pipeline']! - before.byPath['/pipeline']!).toBe(1);

    const view = await gw.usage(id);
    expect(windowOf(view, 'rpm').used).toBe(2);
    expect(windowOf(view, 'tpm').used).toBe(2 * (PROMPT_TOKENS + 5));
  });

  it('settles a reservation that differs from the usage in one more round trip', async () => {
    const { tag, gw } = tagged();
    const { key, id } = await gw.createKey();
    // Warms the settlement script too (its first run on a fresh redis-server may load it).
    expect((await gw.call(CHAT, exact(key, 500))).status).toBe(200);

    const before = await bridgeStats(tag);
    // Reserves 10 + 500, uses 10 + 16: admission, then one settlement.
    expect((await gw.call(CHAT, exact(key, 500))).status).toBe(200);
    const after = await bridgeStats(tag);
    expect(after.httpRequests - before.httpRequests).toBe(2);
    expect(windowOf(await gw.usage(id), 'tpm').used).toBe(2 * (PROMPT_TOKENS + 16));
  });

  it('refuses a request in at most two round trips (the check, then the compensation)', async () => {
    const { tag, gw } = tagged();
    const { key, id } = await gw.createKey({ limits: { rpm: 1 } });
    expect((await gw.call(CHAT, exact(key))).status).toBe(200);

    const before = await bridgeStats(tag);
    const refused = await gw.call(CHAT, exact(key));
    expect(refused.status).toBe(429);
    const after = await bridgeStats(tag);
    const trips = after.httpRequests - before.httpRequests;
    expect(trips).toBeGreaterThanOrEqual(1);
    expect(trips).toBeLessThanOrEqual(2);
    // The compensation left every window and the budget as the admitted request left them.
    const view = await gw.usage(id);
    expect(windowOf(view, 'rpm').used).toBe(1);
    expect(windowOf(view, 'tpm').used).toBe(PROMPT_TOKENS + 5);
    expect(view.budget?.spent_usd).toBeCloseTo((PROMPT_TOKENS + 5) / 1e6, 12);
  });
});
