// Request events: every proxied request of an identified key becomes one request_log row
// (through the EVENTS queue and keygate's consumer), hourly rollups feed the analytics API,
// and last_used_at follows every way a key is used.

import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import type { RequestEvent } from '../../src/events/messages';
import { ulid } from '../../src/lib/ids';
import { runCleanup } from '../../src/scheduled';
import { admin, bearer, call, createKey, testEnv, upstreamOrigin } from '../harness/gateway';
import { awayFromMinuteEdge } from '../limits/stores';
import { capturingQueue, consume } from './queue';

function setup(routes?: unknown[]) {
  const captured = capturingQueue();
  const e: Env = testEnv({
    EVENTS: captured.queue,
    ...(routes ? { ROUTES: routes } : {}),
  });
  return { e, captured };
}

interface LogPage {
  entries: Record<string, unknown>[];
  next_cursor: string | null;
}

async function logsOf(keyId: string, query = '', e?: Env): Promise<LogPage> {
  const res = await admin(`/keys/${keyId}/logs${query}`, {}, { env: e });
  expect(res.status).toBe(200);
  return (await res.json()) as LogPage;
}

describe('request log', () => {
  it('logs a proxied request with route, status, outcome and latency, and never the key or credential headers', async () => {
    const { e, captured } = setup();
    const k = await createKey({ owner: 'acme' }, { env: e });
    const res = await call('/demo/things?secret=querypart', { headers: bearer(k.key, { 'user-agent': 'tests/1', referer: 'https://app.example/page?api_key=leak' }) }, { env: e });
    expect(res.status).toBe(200);
    const sent = captured.drain();
    const events = sent.filter((m) => m.kind === 'request');
    expect(events).toHaveLength(1);
    const text = JSON.stringify(sent);
    expect(text).not.toContain(k.key);
    expect(text).not.toContain('querypart');
    expect(text).not.toContain('leak');
    expect(text.toLowerCase()).not.toContain('authorization');

    const result = await consume(e, sent);
    expect(result.retryMessages).toEqual([]);
    const page = await logsOf(k.id, '', e);
    expect(page.entries).toHaveLength(1);
    expect(page.entries[0]).toMatchObject({
      key_id: k.id,
      owner: 'acme',
      route: '/demo',
      method: 'GET',
      path: '/demo/things',
      status: 200,
      outcome: 'ok',
      user_agent: 'tests/1',
      referer: 'https://app.example/page',
    });
    const latency = page.entries[0]?.latency_ms as Record<string, number | null>;
    expect(latency.upstream).toEqual(expect.any(Number));
    expect(latency.total).toEqual(expect.any(Number));
  });

  it('logs refusals of an identified key with the refusal code, and not requests with unknown keys', async () => {
    const { e, captured } = setup([{ path: '/demo', upstream: upstreamOrigin(), limits: { rpm: 1 } }]);
    const k = await createKey({}, { env: e });
    await awayFromMinuteEdge();
    expect((await call('/demo/a', { headers: bearer(k.key) }, { env: e })).status).toBe(200);
    expect((await call('/demo/b', { headers: bearer(k.key) }, { env: e })).status).toBe(429);
    expect((await call('/demo/c', { headers: bearer('kg_live_notarealkeyatall') }, { env: e })).status).toBe(401);
    const revoked = await createKey({}, { env: e });
    await admin(`/keys/${revoked.id}/revoke`, { method: 'POST', json: { reason: 'test' } }, { env: e });
    expect((await call('/demo/d', { headers: bearer(revoked.key) }, { env: e })).status).toBe(401);
    await consume(e, captured.drain());

    const mine = await logsOf(k.id, '', e);
    expect(mine.entries.map((x) => [x.path, x.status, x.outcome])).toEqual([
      ['/demo/b', 429, 'rate_limited'],
      ['/demo/a', 200, 'ok'],
    ]);
    const limited = await logsOf(k.id, '?outcome=rate_limited', e);
    expect(limited.entries).toHaveLength(1);
    const theirs = await logsOf(revoked.id, '', e);
    expect(theirs.entries.map((x) => x.outcome)).toEqual(['key_revoked']);
    const all = (await (await admin('/logs?path=/demo/c', {}, { env: e })).json()) as LogPage;
    expect(all.entries.some((x) => x.path === '/demo/c')).toBe(false);
  });

  it('sends the events of concurrent requests in shared batches, and every one arrives', async () => {
    const { e, captured } = setup();
    const k = await createKey({}, { env: e });
    captured.drain();
    const before = captured.calls();
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => call(`/demo/concurrent/${i}`, { headers: bearer(k.key) }, { env: e }).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    const packed = captured.raw.map((m) => m.body).filter((m) => typeof m === 'string');
    const events = captured.drain().filter((m) => m.kind === 'request');
    expect(events).toHaveLength(30);
    expect(new Set(events.map((m) => (m.kind === 'request' ? m.path : ''))).size).toBe(30);
    expect(captured.calls() - before).toBeLessThan(30);
    // Packed many to a message; the consumer writes every one, and a redelivery counts none twice.
    expect(packed.length).toBeLessThan(30);
    expect((await consume(e, packed)).retryMessages).toEqual([]);
    await consume(e, packed, 'keygate-events', 2);
    expect((await logsOf(k.id, '?limit=100', e)).entries).toHaveLength(30);
    const a = (await (await admin(`/keys/${k.id}/analytics`, {}, { env: e })).json()) as { series: { requests: number }[] };
    expect(a.series.reduce((n, p) => n + p.requests, 0)).toBe(30);
  });

  it('pages newest first with a cursor and filters by status, owner and time', async () => {
    const { e, captured } = setup();
    const k = await createKey({ owner: 'pager' }, { env: e });
    for (const p of ['/demo/1', '/demo/2', '/demo/3', '/demo/status/404']) await call(p, { headers: bearer(k.key) }, { env: e });
    await consume(e, captured.drain());
    const first = await logsOf(k.id, '?limit=2', e);
    expect(first.entries.map((x) => x.path)).toEqual(['/demo/status/404', '/demo/3']);
    expect(first.next_cursor).not.toBeNull();
    const second = await logsOf(k.id, `?limit=2&cursor=${first.next_cursor}`, e);
    expect(second.entries.map((x) => x.path)).toEqual(['/demo/2', '/demo/1']);
    expect(second.next_cursor).toBeNull();
    expect((await logsOf(k.id, '?status=404', e)).entries).toHaveLength(1);
    const byOwner = (await (await admin('/logs?owner=pager', {}, { env: e })).json()) as LogPage;
    expect(byOwner.entries).toHaveLength(4);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await logsOf(k.id, `?since=${encodeURIComponent(future)}`, e)).entries).toHaveLength(0);
    expect((await admin(`/keys/${k.id}/logs?cursor=nope`, {}, { env: e })).status).toBe(400);
  });

  it('counts a redelivered batch once in the rollups (at-least-once queue, exactly-once analytics)', async () => {
    const { e, captured } = setup();
    const k = await createKey({}, { env: e });
    // The last hourly point must be the hour of these requests (an hour's start is a minute edge).
    await awayFromMinuteEdge();
    for (let i = 0; i < 3; i++) await call('/demo/x', { headers: bearer(k.key) }, { env: e });
    await call('/demo/status/500', { headers: bearer(k.key) }, { env: e });
    const sent = captured.drain();
    await consume(e, sent);
    await consume(e, sent, 'keygate-events', 2);
    const res = await admin(`/keys/${k.id}/analytics?granularity=hour`, {}, { env: e });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { series: { requests: number; errors: number; p50_ms: number | null; p99_ms: number | null }[] };
    const total = body.series.reduce((a, p) => a + p.requests, 0);
    const errors = body.series.reduce((a, p) => a + p.errors, 0);
    expect(total).toBe(4);
    expect(errors).toBe(1);
    expect(body.series.at(-1)?.p99_ms).toEqual(expect.any(Number));
    // Every hour of the default 7 days (plus the current one), zeros where nothing happened.
    expect(body.series).toHaveLength(7 * 24 + 1);
    expect(body.series[0]).toMatchObject({ requests: 0, errors: 0, cost_usd: 0, p50_ms: null, p99_ms: null });
    const hours = body.series.map((p) => Date.parse((p as unknown as { t: string }).t));
    expect(hours.every((t, i) => i === 0 || t - (hours[i - 1] as number) === 3_600_000)).toBe(true);
    expect((await logsOf(k.id, '', e)).entries).toHaveLength(4);

    const overview = (await (await admin('/analytics?granularity=day&top=5', {}, { env: e })).json()) as { top: { key_id: string; requests: number }[] };
    expect(overview.top.find((t) => t.key_id === k.id)?.requests).toBe(4);

    // A batch mixing redelivered and new events counts only the new ones.
    for (let i = 0; i < 2; i++) await call('/demo/y', { headers: bearer(k.key) }, { env: e });
    await consume(e, [...sent, ...captured.drain()], 'keygate-events', 3);
    const mixed = (await (await admin(`/keys/${k.id}/analytics`, {}, { env: e })).json()) as { series: { requests: number }[] };
    expect(mixed.series.reduce((a, p) => a + p.requests, 0)).toBe(6);
    expect((await logsOf(k.id, '', e)).entries).toHaveLength(6);
  });

  it('records tokens and cost of a metered request once the response has streamed', async () => {
    const { e, captured } = setup([{ path: '/llm', upstream: upstreamOrigin(), limits: { rpm: 100 }, metering: { format: 'auto' } }]);
    const k = await createKey({}, { env: e });
    const res = await call('/llm/v1/chat/completions', {
      method: 'POST',
      headers: bearer(k.key, { 'content-type': 'application/json' }),
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 20 }),
    }, { env: e });
    expect(res.status).toBe(200);
    const usage = ((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    await consume(e, captured.drain());
    const [entry] = (await logsOf(k.id, '', e)).entries;
    expect(entry).toMatchObject({ model: 'gpt-4o-mini', input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens });
    expect(entry?.cost_usd).toBeGreaterThan(0);
  });

  it('writes a full batch of 100 events across keys in one transaction', async () => {
    const { e, captured } = setup();
    const keys = await Promise.all([0, 1, 2, 3].map((i) => createKey({ name: `bulk ${i}` }, { env: e })));
    for (const k of keys) await call('/demo/bulk', { headers: bearer(k.key) }, { env: e });
    const seeds = captured.drain().filter((m): m is RequestEvent => m.kind === 'request');
    expect(seeds).toHaveLength(4);
    const events = Array.from({ length: 100 }, (_, i) => ({ ...seeds[i % 4]!, id: `log_${ulid(seeds[i % 4]!.at)}`, path: `/demo/bulk/${i}` }));
    const result = await consume(e, events);
    expect(result.retryMessages).toEqual([]);
    for (const k of keys) {
      const a = (await (await admin(`/keys/${k.id}/analytics`, {}, { env: e })).json()) as { series: { requests: number }[] };
      expect(a.series.reduce((n, p) => n + p.requests, 0)).toBe(25);
      expect((await logsOf(k.id, '?limit=200', e)).entries).toHaveLength(25);
    }
  });

  it('writes a pack of 2,500 events in chunks D1 accepts, and counts a partly redelivered pack once', async () => {
    const { e, captured } = setup();
    const keys = await Promise.all([0, 1, 2].map((i) => createKey({ name: `chunk ${i}` }, { env: e })));
    for (const k of keys) await call('/demo/chunk', { headers: bearer(k.key) }, { env: e });
    const seeds = captured.drain().filter((m): m is RequestEvent => m.kind === 'request');
    const events = Array.from({ length: 2500 }, (_, i) => ({ ...seeds[i % 3]!, id: `log_${ulid(seeds[i % 3]!.at)}`, path: `/demo/chunk/${i}` }));
    const pack = (list: RequestEvent[]) => JSON.stringify({ kind: 'events', events: list });
    // The first 1,200 arrive first; then all 2,500 (a redelivery of those plus new ones), twice.
    expect((await consume(e, [pack(events.slice(0, 1200))])).retryMessages).toEqual([]);
    expect((await consume(e, [pack(events)], 'keygate-events', 2)).retryMessages).toEqual([]);
    await consume(e, [pack(events)], 'keygate-events', 3);
    const perKey = [834, 833, 833];
    for (const [i, k] of keys.entries()) {
      const a = (await (await admin(`/keys/${k.id}/analytics`, {}, { env: e })).json()) as { series: { requests: number }[] };
      expect(a.series.reduce((n, p) => n + p.requests, 0)).toBe(perKey[i]);
    }
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM request_log WHERE path LIKE '/demo/chunk/%'").first<{ n: number }>();
    expect(rows?.n).toBe(2500);
  });

  it('retries a pack whose later chunk D1 refused after the first was written, and counts every event once', async () => {
    const { e, captured } = setup();
    const k = await createKey({}, { env: e });
    await call('/demo/partial', { headers: bearer(k.key) }, { env: e });
    const [seed] = captured.drain().filter((m): m is RequestEvent => m.kind === 'request');
    const events = Array.from({ length: 1500 }, (_, i) => ({ ...seed!, id: `log_${ulid(seed!.at)}`, path: `/demo/partial/${i}` }));
    const pack = JSON.stringify({ kind: 'events', events });
    let calls = 0;
    const secondFails = new Proxy(e.DB, {
      get(t, prop, r) {
        if (prop === 'batch') return (s: D1PreparedStatement[]) => (++calls === 2 ? Promise.reject(new Error('D1_ERROR: simulated outage')) : t.batch(s));
        const v = Reflect.get(t, prop, r) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    expect((await consume({ ...e, DB: secondFails }, [pack])).retryMessages).toHaveLength(1);
    expect((await consume(e, [pack], 'keygate-events', 2)).retryMessages).toEqual([]);
    const a = (await (await admin(`/keys/${k.id}/analytics`, {}, { env: e })).json()) as { series: { requests: number }[] };
    expect(a.series.reduce((n, p) => n + p.requests, 0)).toBe(1500);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM request_log WHERE path LIKE '/demo/partial/%'").first<{ n: number }>();
    expect(rows?.n).toBe(1500);
  });

  it('retries the batch when D1 refuses the write, and loses nothing', async () => {
    const { e, captured } = setup();
    const k = await createKey({}, { env: e });
    await call('/demo/retry', { headers: bearer(k.key) }, { env: e });
    // As the queue holds it: the event packed in a message.
    const sent = captured.raw.map((m) => m.body).filter((m) => typeof m === 'string');
    expect(sent).toHaveLength(1);
    expect(captured.drain().filter((m) => m.kind === 'request')).toHaveLength(1);
    const failingDb = new Proxy(e.DB, {
      get(t, prop, r) {
        if (prop === 'batch') return () => Promise.reject(new Error('D1_ERROR: simulated outage'));
        const v = Reflect.get(t, prop, r) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const failed = await consume({ ...e, DB: failingDb }, sent);
    expect(failed.retryMessages.length).toBe(sent.length);
    expect((await logsOf(k.id, '', e)).entries).toHaveLength(0);
    const ok = await consume(e, sent, 'keygate-events', 2);
    expect(ok.retryMessages).toEqual([]);
    expect((await logsOf(k.id, '', e)).entries).toHaveLength(1);
  });

  it('keeps last_used_at to the minute for the proxy, the verify API, /_keygate and admin keys', async () => {
    const { e, captured } = setup();
    const lastUsed = async (id: string) => ((await (await admin(`/keys/${id}`, {}, { env: e })).json()) as { last_used_at: string | null }).last_used_at;
    const viaProxy = await createKey({}, { env: e });
    const viaVerify = await createKey({}, { env: e });
    const viaHolder = await createKey({}, { env: e });
    const viaAdmin = await createKey({ scopes: ['admin'] }, { env: e });
    await call('/demo/x', { headers: bearer(viaProxy.key) }, { env: e });
    await admin('/verify', { method: 'POST', json: { key: viaVerify.key } }, { env: e });
    await call('/_keygate/key', { headers: bearer(viaHolder.key) }, { env: e });
    await admin('/keys?limit=1', {}, { env: e, token: viaAdmin.key });
    for (const k of [viaProxy, viaVerify, viaHolder, viaAdmin]) expect(await lastUsed(k.id)).toBeNull();
    await consume(e, captured.drain());
    for (const k of [viaProxy, viaVerify, viaHolder, viaAdmin]) {
      const at = await lastUsed(k.id);
      expect(at, k.id).not.toBeNull();
      expect(new Date(at as string).getUTCSeconds()).toBe(0);
      expect(Date.now() - Date.parse(at as string)).toBeLessThan(120_000);
    }
  });

  it('drops logs older than LOG_RETENTION_DAYS and rollups older than ROLLUP_RETENTION_DAYS in the cron', async () => {
    const { e, captured } = setup();
    const k = await createKey({}, { env: e });
    await call('/demo/old', { headers: bearer(k.key) }, { env: e });
    await consume(e, captured.drain());
    expect((await logsOf(k.id, '', e)).entries).toHaveLength(1);
    // 10 days later with 7 days of logs: the row goes, its rollup stays.
    const later = Date.now() + 10 * 86_400_000;
    const report = await runCleanup({ ...e, LOG_RETENTION_DAYS: '7' }, later);
    expect(report.logsRemoved).toBeGreaterThanOrEqual(1);
    expect((await logsOf(k.id, '', e)).entries).toHaveLength(0);
    const rollups = await env.DB.prepare('SELECT COUNT(*) AS n FROM request_rollups WHERE key_id = ?').bind(k.id).first<{ n: number }>();
    expect(rollups?.n).toBe(1);
    await runCleanup({ ...e, ROLLUP_RETENTION_DAYS: '5' }, later);
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM request_rollups WHERE key_id = ?').bind(k.id).first<{ n: number }>();
    expect(after?.n).toBe(0);
  });

  it('keeps what the dead-letter queue hands over in D1 dead_letters', async () => {
    const { e } = setup();
    const result = await consume(e, [{ kind: 'use', key_id: 'key_dead', at: Date.now(), via: 'verify' }], 'keygate-events-dlq');
    expect(result.ackAll).toBe(true);
    const row = await env.DB.prepare("SELECT queue, body FROM dead_letters WHERE body LIKE '%key_dead%'").first<{ queue: string; body: string }>();
    expect(row?.queue).toBe('keygate-events-dlq');
    expect(JSON.parse(row?.body ?? '{}')).toMatchObject({ kind: 'use', key_id: 'key_dead' });
    // An event pack is kept as its text.
    const pack = JSON.stringify({ kind: 'events', events: [{ kind: 'use', key_id: 'key_dead_packed', at: Date.now(), via: 'verify' }] });
    expect((await consume(e, [pack], 'keygate-events-dlq')).ackAll).toBe(true);
    const packed = await env.DB.prepare("SELECT body FROM dead_letters WHERE body LIKE '%key_dead_packed%'").first<{ body: string }>();
    expect(packed?.body).toBe(pack);
  });

  it('delivers events through the real local queue to the consumer', async () => {
    const e = testEnv();
    const k = await createKey({}, { env: e });
    await call('/demo/real-queue', { headers: bearer(k.key) }, { env: e });
    let entries: Record<string, unknown>[] = [];
    for (let i = 0; i < 60 && entries.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      entries = (await logsOf(k.id, '', e)).entries;
    }
    expect(entries.map((x) => x.path)).toEqual(['/demo/real-queue']);
  });
});
