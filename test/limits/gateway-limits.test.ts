// Request and token windows enforced through the whole gateway (route -> key -> limits ->
// upstream), on both limit stores: boundaries, headers, concurrency, all-or-nothing
// admission, key and model overrides, token reservations and the usage endpoints.

import { beforeEach, describe, expect, it } from 'vitest';
import { bearer, call, upstreamOrigin } from '../harness/gateway';
import {
  awayFromMinuteEdge,
  chatBody,
  demoCompletion,
  errorOf,
  gateway,
  postJson,
  PROMPT_TOKENS,
  STORE_KINDS,
  windowOf,
} from './stores';

const origin = () => upstreamOrigin();
const CHAT = '/llm/v1/chat/completions';

describe.each(STORE_KINDS)('limits through the gateway (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());

  it('admits rpm requests with RateLimit headers, then answers 429 rate_limited naming rpm', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin(), limits: { rpm: 3 } }] });
    const { key } = await gw.createKey();

    for (let i = 1; i <= 3; i++) {
      const res = await gw.call('/api/items', { headers: bearer(key) });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"rpm";q=3;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"rpm";r=${3 - i};t=\\d+$`));
      // Not an LLM route: no OpenAI-style headers.
      expect(res.headers.get('x-ratelimit-limit-requests')).toBeNull();
      const timing = res.headers.get('server-timing') ?? '';
      expect(timing).toContain(`store;desc="${kind}"`);
      expect(timing).toMatch(/(^|, )upstream;dur=/);
    }

    const refused = await gw.call('/api/items', { headers: bearer(key) });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-policy')).toBe('"rpm";q=3;w=60');
    expect(refused.headers.get('ratelimit')).toMatch(/^"rpm";r=0;t=\d+$/);
    const error = await errorOf(refused);
    expect(error.code).toBe('rate_limited');
    expect(error.message).toContain('rpm');
    expect(error.details).toMatchObject({ limit: 'rpm', kind: 'requests', limit_value: 3 });
    // The refused request was not forwarded, so it has no upstream timing.
    expect(refused.headers.get('server-timing') ?? '').not.toContain('upstream');
  });

  it('adds x-ratelimit-* headers for requests and tokens on an LLM route', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), limits: { rpm: 3, tpm: 10_000 }, metering: { format: 'auto' } }] });
    const { key } = await gw.createKey();
    const res = await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 100 })));
    expect(res.status).toBe(200);
    const reservation = PROMPT_TOKENS + 100;
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|\d+s|1m0s)$/);
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('10000');
    // Headers are written at admission, when the reservation is what has been taken.
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe(String(10_000 - reservation));
    expect(res.headers.get('x-ratelimit-reset-tokens')).toMatch(/^(\d+ms|\d+s|1m0s)$/);
    expect(res.headers.get('ratelimit-policy')).toBe('"rpm";q=3;w=60');
    const timing = res.headers.get('server-timing') ?? '';
    expect(timing).toContain(`store;desc="${kind}"`);
    expect(timing).toMatch(/(^|, )upstream;dur=/);
  });

  it('admits exactly rpm of 300 simultaneous requests and refuses the other 200', { timeout: 60_000 }, async () => {
    await awayFromMinuteEdge(15_000);
    // The longest store timeout allowed: a timed-out admission would fail open and over-admit.
    const gw = gateway(kind, { ROUTES: [{ path: '/burst', upstream: origin(), limits: { rpm: 100 } }], STORE_TIMEOUT_MS: '10000' });
    const { key, id } = await gw.createKey();
    const results = await Promise.all(Array.from({ length: 300 }, () => gw.call('/burst/x', { headers: bearer(key) })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200);
    expect(windowOf(await gw.usage(id), 'rpm').used).toBe(100);
  });

  it('a request refused by tpm consumes no rpm and no tokens', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), limits: { rpm: 10, tpm: 200 }, metering: { format: 'auto' } }] });
    const { key, id } = await gw.createKey();
    expect((await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 5 })))).status).toBe(200);
    const before = await gw.usage(id);
    expect(windowOf(before, 'rpm').used).toBe(1);
    expect(windowOf(before, 'tpm').used).toBe(PROMPT_TOKENS + 5);

    const refused = await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 1000 })));
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).details).toMatchObject({ limit: 'tpm', kind: 'tokens' });

    const after = await gw.usage(id);
    expect(windowOf(after, 'rpm').used).toBe(1);
    expect(windowOf(after, 'tpm').used).toBe(PROMPT_TOKENS + 5);
  });

  it('a request refused by tpm takes no capacity from requests admitted alongside it', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), limits: { tpm: 100 }, metering: { format: 'auto' } }] });
    const { key, id } = await gw.createKey();
    // One request that can never fit (10 + 1000 > 100) arrives with five that all fit
    // together (5 x (10 + 1) = 55): the five must pass whatever order the store sees them in.
    const oversized = gw.call(CHAT, postJson(key, chatBody({ max_tokens: 1000 })));
    const small = Array.from({ length: 5 }, () => gw.call(CHAT, postJson(key, chatBody({ max_tokens: 1 }))));
    const [refused, ...admitted] = await Promise.all([oversized, ...small]);
    expect(refused!.status).toBe(429);
    expect(admitted.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(windowOf(await gw.usage(id), 'tpm').used).toBe(5 * (PROMPT_TOKENS + 1));
  });

  it('a tpm refusal tells the client how many tokens are still left in the window', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), limits: { tpm: 100 }, metering: { format: 'auto' } }] });
    const { key } = await gw.createKey();
    expect((await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 16 })))).status).toBe(200);
    // 26 used, 74 left; 10 + 80 does not fit.
    const refused = await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 80 })));
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).details).toMatchObject({ limit: 'tpm', limit_value: 100, remaining: 100 - (PROMPT_TOKENS + 16) });
  });

  it('a request refused by rpm takes no token reservation and spends no budget', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: origin(), limits: { rpm: 1, tpm: 10_000 }, budget: { usd: 10, period: 'day' }, metering: { format: 'auto' } }],
      PRICES: { 'flat-model': { input: 1, output: 1 } },
    });
    const { key, id } = await gw.createKey();
    expect((await gw.call(CHAT, postJson(key, chatBody({ model: 'flat-model', max_tokens: 5 })))).status).toBe(200);
    const refused = await gw.call(CHAT, postJson(key, chatBody({ model: 'flat-model', max_tokens: 500 })));
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).details).toMatchObject({ limit: 'rpm' });
    const view = await gw.usage(id);
    expect(windowOf(view, 'rpm').used).toBe(1);
    expect(windowOf(view, 'tpm').used).toBe(PROMPT_TOKENS + 5);
    expect(view.budget?.spent_usd).toBeCloseTo((PROMPT_TOKENS + 5) / 1e6, 12);
  });

  it("a key's own limits replace the route's defaults", async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin(), limits: { rpm: 2 } }] });
    const roomy = await gw.createKey({ limits: { rpm: 4 } });
    const plain = await gw.createKey();
    const statuses = async (key: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await gw.call('/api/x', { headers: bearer(key) })).status);
      return out;
    };
    expect(await statuses(roomy.key, 5)).toEqual([200, 200, 200, 200, 429]);
    expect(await statuses(plain.key, 3)).toEqual([200, 200, 429]);

    const strict = await gw.createKey({ limits: { rpm: 1 } });
    expect(await statuses(strict.key, 2)).toEqual([200, 429]);
    const res = await gw.call('/api/x', { headers: bearer(strict.key) });
    expect((await errorOf(res)).details).toMatchObject({ limit: 'rpm', limit_value: 1 });
  });

  it('model_limits apply only to the model named in the request body', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: origin(), limits: { rpm: 100 }, model_limits: { 'claude-x': { rpm: 1 } }, metering: { format: 'auto' } }],
    });
    const { key } = await gw.createKey({ model_limits: { 'gpt-4o': { rpm: 1 } } });
    const send = (model?: string) => gw.call(CHAT, postJson(key, chatBody({ model, max_tokens: 1 })));

    expect((await send('gpt-4o')).status).toBe(200);
    const refused = await send('gpt-4o');
    expect(refused.status).toBe(429);
    const error = await errorOf(refused);
    expect(error.details).toMatchObject({ limit: 'model:gpt-4o:rpm', limit_value: 1 });
    expect(error.message).toContain('model:gpt-4o:rpm');

    // Other models, and requests that name none, are held only by the key-wide window.
    for (let i = 0; i < 3; i++) expect((await send('gpt-4o-mini')).status).toBe(200);
    expect((await send()).status).toBe(200);

    // A route's model_limits apply alongside the key's own.
    expect((await send('claude-x')).status).toBe(200);
    const routeRefused = await send('claude-x');
    expect(routeRefused.status).toBe(429);
    expect((await errorOf(routeRefused)).details).toMatchObject({ limit: 'model:claude-x:rpm' });
  });

  it('refuses a reservation that does not fit the remaining tpm, and admits the same request with a smaller max_tokens', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/llm', upstream: origin(), limits: { tpm: 100 }, metering: { format: 'auto' } }] });
    const { key, id } = await gw.createKey();
    // 10 prompt tokens + 91 = 101 > 100.
    const refused = await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 91 })));
    expect(refused.status).toBe(429);
    const error = await errorOf(refused);
    expect(error.code).toBe('rate_limited');
    expect(error.message).toContain('tpm');
    expect(error.details).toMatchObject({ limit: 'tpm', kind: 'tokens', limit_value: 100 });
    expect(windowOf(await gw.usage(id), 'tpm').used).toBe(0);

    // 10 + 90 = 100 fits exactly; the upstream then uses 10 + 16 and the rest is refunded.
    const admitted = await gw.call(CHAT, postJson(key, chatBody({ max_tokens: 90 })));
    expect(admitted.status).toBe(200);
    expect(windowOf(await gw.usage(id), 'tpm').used).toBe(PROMPT_TOKENS + demoCompletion(90));
  });

  it('shows limit, used, remaining, reset and budget on the admin and key-holder usage endpoints', async () => {
    const gw = gateway(kind, {
      ROUTES: [{ path: '/llm', upstream: origin(), metering: { format: 'auto' } }],
      PRICES: { 'flat-model': { input: 2, output: 2 } },
    });
    const { key, id } = await gw.createKey({ limits: { rpm: 10, rpd: 100, tpm: 5_000, tpd: 50_000 }, budget: { usd: 1, period: 'month' } });
    const res = await gw.call(CHAT, postJson(key, chatBody({ model: 'flat-model', max_tokens: 4 })));
    expect(res.status).toBe(200);
    const usage = ((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    const tokens = usage.prompt_tokens + usage.completion_tokens;
    expect(tokens).toBe(PROMPT_TOKENS + 4);

    const view = await gw.usage(id);
    expect(view.key_id).toBe(id);
    expect(view.store).toBe(kind);
    expect(view.windows.map((w) => w.name).sort()).toEqual(['rpd', 'rpm', 'tpd', 'tpm']);
    expect(windowOf(view, 'rpm')).toMatchObject({ kind: 'requests', limit: 10, used: 1, remaining: 9, window_seconds: 60 });
    expect(windowOf(view, 'rpd')).toMatchObject({ kind: 'requests', limit: 100, used: 1, remaining: 99, window_seconds: 86_400 });
    expect(windowOf(view, 'tpm')).toMatchObject({ kind: 'tokens', limit: 5_000, used: tokens, remaining: 5_000 - tokens, window_seconds: 60 });
    expect(windowOf(view, 'tpd')).toMatchObject({ kind: 'tokens', limit: 50_000, used: tokens, remaining: 50_000 - tokens, window_seconds: 86_400 });
    for (const w of view.windows) {
      const reset = Date.parse(w.reset);
      expect(reset % (w.window_seconds * 1000)).toBe(0);
      expect(reset).toBeGreaterThan(Date.now() - 1000);
      expect(reset - Date.now()).toBeLessThanOrEqual(w.window_seconds * 1000);
    }
    const now = new Date();
    const spent = (tokens * 2) / 1e6;
    expect(view.budget).toMatchObject({ usd: 1, period: 'month', reset: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString() });
    expect(view.budget?.spent_usd).toBeCloseTo(spent, 12);
    expect(view.budget?.remaining_usd).toBeCloseTo(1 - spent, 12);

    // The key holder sees the same view, authenticated by the key itself.
    const own = await call('/_keygate/usage', { headers: bearer(key) }, { env: gw.env });
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual(view);

    const anonymous = await call('/_keygate/usage', {}, { env: gw.env });
    expect(anonymous.status).toBe(401);
    expect((await errorOf(anonymous)).code).toBe('missing_key');
  });
});
