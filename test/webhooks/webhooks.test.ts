// Outbound webhooks: endpoints, Standard Webhooks signatures, delivery with backoff from the
// queue, recorded attempts, replay, 410 disabling, SSRF checks, and key/limit/budget events.

import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import type { DeliveryJob } from '../../src/events/messages';
import { backoffSeconds } from '../../src/webhooks/delivery';
import { signedHeaders } from '../../src/webhooks/signing';
import { checkWebhookUrl } from '../../src/webhooks/ssrf';
import { dispatchAudit } from '../../src/webhooks/outbox';
import { message } from '../../src/webhooks/events';
import { WebhookRepository } from '../../src/webhooks/repository';
import { ulid } from '../../src/lib/ids';
import { admin, bearer, call, countingEnv, createKey, testEnv, upstreamOrigin } from '../harness/gateway';
import { capturingQueue, consume } from '../events/queue';
import { awayFromMinuteEdge } from '../limits/stores';

async function setup(routes?: unknown[]) {
  // Storage is shared by the tests of this file: earlier tests' endpoints stop receiving.
  await env.DB.prepare('UPDATE webhook_endpoints SET enabled = 0').run();
  const captured = capturingQueue();
  const e: Env = testEnv({ EVENTS: captured.queue, WEBHOOKS_ALLOW_PRIVATE: 'true', ...(routes ? { ROUTES: routes } : {}) });
  return { e, captured };
}

async function createHook(e: Env, url: string, events: string[]) {
  const res = await admin('/webhooks', { method: 'POST', json: { url, events } }, { env: e });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; secret: string };
}

interface DeliveryView {
  id: string;
  message_id: string;
  type: string;
  status: string;
  attempts: number;
  last_status: number | null;
  attempt_log: { attempt: number; status: number | null }[];
}

async function deliveries(e: Env, id: string): Promise<DeliveryView[]> {
  const res = await admin(`/webhooks/${id}/deliveries`, {}, { env: e });
  expect(res.status).toBe(200);
  return ((await res.json()) as { deliveries: DeliveryView[] }).deliveries;
}

/** Runs the consumer until the queue holds no more immediate work; returns delayed delivery jobs. */
async function pump(e: Env, captured: ReturnType<typeof capturingQueue>): Promise<{ body: DeliveryJob; delaySeconds?: number }[]> {
  const delayed: { body: DeliveryJob; delaySeconds?: number }[] = [];
  for (let i = 0; i < 10; i++) {
    const now = captured.sent.splice(0);
    const ready = now.filter((s) => !s.delaySeconds).map((s) => s.body);
    for (const s of now) if (s.delaySeconds) delayed.push(s as { body: DeliveryJob; delaySeconds?: number });
    if (ready.length === 0) break;
    await consume(e, ready);
  }
  return delayed;
}

describe('webhook endpoints', () => {
  it('creates an endpoint with a whsec_ secret shown once, and lists, updates and deletes it', async () => {
    const { e } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/hook`, ['key.revoked']);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const got = (await (await admin(`/webhooks/${hook.id}`, {}, { env: e })).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ id: hook.id, events: ['key.revoked'], enabled: true });
    expect(JSON.stringify(got)).not.toContain(hook.secret);
    const list = await (await admin('/webhooks', {}, { env: e })).text();
    expect(list).not.toContain(hook.secret);
    const patched = await admin(`/webhooks/${hook.id}`, { method: 'PATCH', json: { events: ['key.created', 'key.deleted'] } }, { env: e });
    expect(((await patched.json()) as { events: string[] }).events).toEqual(['key.created', 'key.deleted']);
    expect((await admin(`/webhooks/${hook.id}`, { method: 'DELETE' }, { env: e })).status).toBe(200);
    expect((await admin(`/webhooks/${hook.id}`, {}, { env: e })).status).toBe(404);
    const bad = await admin('/webhooks', { method: 'POST', json: { url: 'https://x.example', events: ['key.nope'] } }, { env: e });
    expect(bad.status).toBe(400);
  });

  it('refuses private, loopback and link-local URLs unless WEBHOOKS_ALLOW_PRIVATE is set', async () => {
    const strict = testEnv();
    for (const url of ['http://127.0.0.1:8080/x', 'http://localhost/x', 'http://[::1]/x', 'http://169.254.169.254/latest', 'http://10.1.2.3/', 'http://2130706433/', 'http://0x7f.1/', 'http://[::ffff:192.168.0.1]/']) {
      const res = await admin('/webhooks', { method: 'POST', json: { url, events: ['key.created'] } }, { env: strict });
      expect(res.status, url).toBe(400);
    }
    expect((await admin('/webhooks', { method: 'POST', json: { url: 'https://hooks.example.com/in', events: ['key.created'] } }, { env: strict })).status).toBe(201);
  });

  it('refuses localhost with any number of trailing dots, and IPv6 prefixes that embed or translate to IPv4', () => {
    for (const url of [
      'http://localhost../x', 'http://LOCALHOST.../x', 'http://api.internal../x',
      // Local-use NAT64 (RFC 8215), SIIT IPv4-translated, 6to4 and Teredo carry an IPv4
      // address a gateway may translate to; site-local is private by definition.
      'http://[64:ff9b:1::7f00:1]/', 'http://[64:ff9b:1::a9fe:a9fe]/', 'http://[::ffff:0:7f00:1]/', 'http://[::ffff:0:a00:1]/',
      'http://[2002:7f00:1::]/', 'http://[2002:a9fe:a9fe::1]/', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', 'http://[fec0::1]/',
    ]) {
      expect(checkWebhookUrl(url, false).ok, url).toBe(false);
    }
    // Public destinations stay allowed.
    for (const url of ['https://hooks.example.com./in', 'https://[2606:4700:4700::1111]/', 'https://1.1.1.1/']) expect(checkWebhookUrl(url, false).ok, url).toBe(true);
  });

  it('audits every endpoint change (create, update, delete) with the actor, never the URL or the secret', async () => {
    // A webhook receives every key event: adding or repointing one is an admin change like any
    // other, and the audit log promises every admin change in the same batch as the change.
    const { e } = await setup();
    const url = `${upstreamOrigin()}/hook/private-path-token`;
    const hook = await createHook(e, url, ['key.created']);
    await admin(`/webhooks/${hook.id}`, { method: 'PATCH', json: { url: `${upstreamOrigin()}/elsewhere`, enabled: false } }, { env: e });
    await admin(`/webhooks/${hook.id}`, { method: 'DELETE' }, { env: e });
    // A refused change leaves no entry.
    expect((await admin(`/webhooks/${hook.id}`, { method: 'PATCH', json: { description: 'gone' } }, { env: e })).status).toBe(404);
    const rows = await env.DB.prepare("SELECT actor, action, key_id, changes FROM audit_log WHERE changes LIKE ? ORDER BY id").bind(`%${hook.id}%`).all<{ actor: string; action: string; key_id: string | null; changes: string }>();
    expect(rows.results.map((r) => [r.actor, r.action, r.key_id, JSON.parse(r.changes)])).toEqual([
      ['admin_token', 'webhook_create', null, [`webhook:${hook.id}`, 'url', 'events', 'description']],
      ['admin_token', 'webhook_update', null, [`webhook:${hook.id}`, 'url', 'enabled']],
      ['admin_token', 'webhook_delete', null, [`webhook:${hook.id}`]],
    ]);
    const text = JSON.stringify(rows.results);
    expect(text).not.toContain('private-path-token');
    expect(text).not.toContain(hook.secret);
  });

  it('refuses a webhook endpoint past the 1000 that receive events, instead of creating one that never would', async () => {
    // Events go to the enabled endpoints the dispatcher reads, at most 1000: the 1001st was
    // created (201) and then silently never sent anything.
    const { e } = await setup();
    const now = Date.now();
    const existing = (await env.DB.prepare('SELECT COUNT(*) AS n FROM webhook_endpoints').first<{ n: number }>())!.n;
    await env.DB.prepare(
      `INSERT INTO webhook_endpoints (id, url, description, events, secret, sealed_secret, master_version, enabled, failure_count, created_at, updated_at)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       SELECT 'whe_FILL' || printf('%022d', i), 'https://hooks.example.com/fill', '', '["key.created"]', NULL, 'x', 'v', 1, 0, ?, ? FROM n`,
    )
      .bind(1000 - existing, now, now)
      .run();
    try {
      const res = await admin('/webhooks', { method: 'POST', json: { url: `${upstreamOrigin()}/hook`, events: ['key.created'] } }, { env: e });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('conflict');
      expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM webhook_endpoints').first<{ n: number }>())!.n).toBe(1000);
    } finally {
      await env.DB.prepare("DELETE FROM webhook_endpoints WHERE id LIKE 'whe_FILL%'").run();
    }
    expect((await admin('/webhooks', { method: 'POST', json: { url: `${upstreamOrigin()}/hook`, events: ['key.created'] } }, { env: e })).status).toBe(201);
  });

  it('answers 404, not 500, when the endpoint is deleted while a PATCH to it is under way', async () => {
    const { e } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/hook`, ['key.created']);
    // A DELETE lands between the PATCH's existence check and its update (the PATCH's only write).
    const racing = new Proxy(e.DB, {
      get(db, prop) {
        if (prop !== 'batch') return (Reflect.get(db, prop) as (...a: unknown[]) => unknown).bind(db);
        return async (statements: D1PreparedStatement[]) => (await admin(`/webhooks/${hook.id}`, { method: 'DELETE' }, { env: e }), db.batch(statements));
      },
    });
    const res = await admin(`/webhooks/${hook.id}`, { method: 'PATCH', json: { description: 'late' } }, { env: { ...e, DB: racing } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('lists a page of 100 deliveries with their attempts in a bounded number of D1 queries', async () => {
    // D1 caps the queries of one Worker invocation (50 on the free plan): one attempts query
    // per delivery made a full page fail with 500 there.
    const { e } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/hook`, ['key.created']);
    const now = Date.now();
    const repo = new WebhookRepository(env.DB);
    const ids = await repo.insertMessages(Array.from({ length: 100 }, (_, i) => ({ message: message(`msg_page_${hook.id}_${i}`, 'key.created', now, { i }), endpoints: [hook.id] })), now);
    for (const id of ids.slice(0, 3)) {
      const d = (await repo.delivery(id))!.delivery;
      await repo.recordAttempt(d, { attempt: 1, at: now, status: 500, error: 'HTTP 500', duration_ms: 3 }, { status: 'pending', next_attempt_at: now + 60_000 }, { reset: false, failed: false, disable: null, disableAfter: 5 });
    }
    const { env: counted, counts } = countingEnv(e);
    const res = await admin(`/webhooks/${hook.id}/deliveries?limit=100`, {}, { env: counted });
    expect(res.status).toBe(200);
    const page = ((await res.json()) as { deliveries: DeliveryView[] }).deliveries;
    expect(page).toHaveLength(100);
    expect(page.filter((d) => d.attempt_log.length === 1).map((d) => d.id).sort()).toEqual(ids.slice(0, 3).sort());
    expect(page.find((d) => d.id === ids[0])?.attempt_log[0]).toMatchObject({ attempt: 1, status: 500 });
    expect(counts.d1).toBeLessThanOrEqual(10);
  });

  it('never accepts an address in a private range, however it is written (property)', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const privateV4 = fc.oneof(
      fc.tuple(fc.constant(10), octet, octet, octet),
      fc.tuple(fc.constant(127), octet, octet, octet),
      fc.tuple(fc.constant(169), fc.constant(254), octet, octet),
      fc.tuple(fc.constant(192), fc.constant(168), octet, octet),
      fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), octet, octet),
    );
    fc.assert(
      fc.property(privateV4, fc.constantFrom('dotted', 'decimal', 'hex', 'mapped'), (parts, form) => {
        const n = ((parts[0] * 256 + parts[1]) * 256 + parts[2]) * 256 + parts[3];
        const host =
          form === 'dotted' ? parts.join('.') : form === 'decimal' ? String(n) : form === 'hex' ? `0x${n.toString(16)}` : `[::ffff:${parts.join('.')}]`;
        expect(checkWebhookUrl(`http://${host}/hook`, false).ok).toBe(false);
      }),
    );
  });
});

describe('webhook delivery', () => {
  it('signs deliveries per Standard Webhooks so a receiver can verify them with the secret', () => {
    const secret = 'whsec_' + btoa('0123456789abcdef0123456789abcdef');
    const payload = JSON.stringify({ type: 'key.revoked', timestamp: new Date().toISOString(), data: { key_id: 'key_x' } });
    const headers = signedHeaders(secret, 'msg_1', payload, new Date());
    expect(new Webhook(secret).verify(payload, headers)).toMatchObject({ type: 'key.revoked' });
    expect(() => new Webhook(secret).verify(payload.replace('key_x', 'key_y'), headers)).toThrow();
  });

  it('sends key lifecycle events from the audit log, once each, to the endpoints subscribed', async () => {
    const { e, captured } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/hook`, ['key.created', 'key.revoked']);
    const other = await createHook(e, `${upstreamOrigin()}/other`, ['key.deleted']);
    const k = await createKey({ name: 'watched' }, { env: e });
    await admin(`/keys/${k.id}/revoke`, { method: 'POST', json: { reason: 'leaked' } }, { env: e });
    await pump(e, captured);
    // A second dispatch (the cron's re-read) sends nothing again.
    await consume(e, [{ kind: 'dispatch' }]);
    await pump(e, captured);
    const mine = (await deliveries(e, hook.id)).filter((d) => d.status === 'succeeded');
    expect(mine.map((d) => d.type).sort()).toEqual(['key.created', 'key.revoked']);
    expect(mine.every((d) => d.last_status === 200)).toBe(true);
    expect(await deliveries(e, other.id)).toEqual([]);
    // Payloads carry the redacted key record: never the plaintext or its digest.
    const payloads = await env.DB.prepare('SELECT payload FROM webhook_messages').all<{ payload: string }>();
    const digest = await env.DB.prepare('SELECT digest FROM keys WHERE id = ?').bind(k.id).first<{ digest: string }>();
    const all = payloads.results.map((r) => r.payload).join('\n');
    expect(all).toContain(k.id);
    expect(all).not.toContain(k.key);
    expect(all).not.toContain(digest?.digest ?? 'no digest');
  });

  it('sends an event for every audit entry of a bulk change, also past the first 500 of the lookback', async () => {
    // A guarded bulk update writes one audit entry per key (aud_<ulid>_<key id>), all in one
    // instant. The dispatcher read the lookback window with LIMIT 500 from its start, so
    // entries past the 500th were never read by any run and their events were lost.
    const { e } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/hook`, ['key.revoked']);
    const now = Date.now() + 1;
    await env.DB.prepare(
      `INSERT INTO audit_log (id, at, actor, action, key_id, changes)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
       SELECT 'aud_' || ? || '_key_bulk' || printf('%05d', i), ?, 'admin_token', 'revoke', NULL, '[]' FROM n`,
    )
      .bind(ulid(now), now)
      .run();
    await dispatchAudit(env.DB, undefined, now + 1000);
    const sent = await env.DB.prepare('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?').bind(hook.id).first<{ n: number }>();
    expect(sent?.n).toBe(1200);
  });

  it('retries with backoff while the receiver is down and delivers with the same webhook-id once it is back', async () => {
    const { e, captured } = await setup();
    // Port 9 (discard) has no listener: the receiver is "down".
    const hook = await createHook(e, 'http://127.0.0.1:9/hook', ['key.created']);
    await createKey({ name: 'while down' }, { env: e });
    const delayed = await pump(e, captured);
    expect(delayed).toHaveLength(1);
    expect(delayed[0]?.delaySeconds).toBe(backoffSeconds(1));
    let [d] = await deliveries(e, hook.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status: null });
    const firstId = d?.message_id;

    // Still down for the second attempt: the next delay grows.
    await consume(e, [delayed[0]!.body]);
    const again = captured.sent.splice(0);
    expect(again[0]?.delaySeconds).toBe(backoffSeconds(2));
    expect(backoffSeconds(2)).toBeGreaterThan(backoffSeconds(1));

    // The receiver is back (same endpoint, now reachable): the queued retry delivers it.
    await admin(`/webhooks/${hook.id}`, { method: 'PATCH', json: { url: `${upstreamOrigin()}/hook` } }, { env: e });
    await consume(e, [again[0]!.body]);
    [d] = await deliveries(e, hook.id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 3, last_status: 200, message_id: firstId });
    expect(d?.attempt_log.map((a) => a.status)).toEqual([null, null, 200]);
    // A duplicate job for an attempt already made does nothing.
    await consume(e, [again[0]!.body]);
    expect((await deliveries(e, hook.id))[0]?.attempts).toBe(3);
  });

  it('gets every event to the demo receiver, verified, after it was down, each webhook-id once', async () => {
    const { e, captured } = await setup();
    const receiver = `${upstreamOrigin()}/webhooks`;
    const hook = await createHook(e, `${receiver}/in`, ['key.created', 'key.revoked']);
    await fetch(`${receiver}/secret`, { method: 'PUT', body: hook.secret });
    await fetch(`${receiver}/down`, { method: 'PUT', body: 'true' });
    const a = await createKey({ name: 'during outage a' }, { env: e });
    await createKey({ name: 'during outage b' }, { env: e });
    await admin(`/keys/${a.id}/revoke`, { method: 'POST', json: { reason: 'outage' } }, { env: e });
    const retries = await pump(e, captured);
    expect(retries).toHaveLength(3);
    expect((await deliveries(e, hook.id)).every((d) => d.status === 'pending' && d.last_status === 503)).toBe(true);

    await fetch(`${receiver}/down`, { method: 'PUT', body: 'false' });
    await consume(e, retries.map((r) => r.body));
    const done = await deliveries(e, hook.id);
    expect(done.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const got = ((await (await fetch(`${receiver}/received`)).json()) as { received: { id: string; type: string; verified: boolean }[] }).received;
    const mine = got.filter((r) => done.some((d) => d.message_id === r.id));
    expect(mine).toHaveLength(3);
    expect(mine.every((r) => r.verified)).toBe(true);
    expect(mine.map((r) => r.type).sort()).toEqual(['key.created', 'key.created', 'key.revoked']);
    await fetch(`${receiver}/secret`, { method: 'PUT', body: '' });
  });

  it('spreads the default 8 attempts over more than a day', () => {
    let total = 0;
    for (let n = 1; n < 8; n++) total += backoffSeconds(n);
    expect(total).toBeGreaterThan(86_400);
  });

  it('disables an endpoint that answers 410 Gone, and replays a failed delivery once re-enabled', async () => {
    const { e, captured } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/status/410`, ['key.created']);
    await createKey({ name: 'gone' }, { env: e });
    await pump(e, captured);
    const got = (await (await admin(`/webhooks/${hook.id}`, {}, { env: e })).json()) as { enabled: boolean; disabled_reason: string };
    expect(got).toMatchObject({ enabled: false, disabled_reason: 'gone' });
    const [failed] = await deliveries(e, hook.id);
    expect(failed).toMatchObject({ status: 'failed', last_status: 410 });

    await admin(`/webhooks/${hook.id}`, { method: 'PATCH', json: { url: `${upstreamOrigin()}/hook`, enabled: true } }, { env: e });
    const replay = await admin(`/webhooks/${hook.id}/deliveries/${failed!.id}/replay`, { method: 'POST' }, { env: e });
    expect(replay.status).toBe(202);
    await pump(e, captured);
    const [after] = await deliveries(e, hook.id);
    expect(after).toMatchObject({ id: failed!.id, status: 'succeeded', message_id: failed!.message_id });
  });

  it('disables an endpoint after 5 deliveries in a row failed every attempt', async () => {
    const { e, captured } = await setup();
    const failing: Env = { ...e, WEBHOOK_MAX_ATTEMPTS: '1' };
    const hook = await createHook(failing, `${upstreamOrigin()}/status/500`, ['key.created']);
    for (let i = 0; i < 5; i++) await createKey({ name: `failing ${i}` }, { env: failing });
    await pump(failing, captured);
    const ds = await deliveries(failing, hook.id);
    expect(ds.map((d) => d.status)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    const got = (await (await admin(`/webhooks/${hook.id}`, {}, { env: failing })).json()) as { enabled: boolean; disabled_reason: string; failure_count: number };
    expect(got).toMatchObject({ enabled: false, disabled_reason: 'failing', failure_count: 5 });
  });

  it('answers a test ping with the attempt made', async () => {
    const { e } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/hook`, ['key.created']);
    const res = await admin(`/webhooks/${hook.id}/test`, { method: 'POST' }, { env: e });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'webhook.ping', status: 'succeeded', last_status: 200 });
  });

  it('failed test pings never disable the endpoint: events keep reaching it once the receiver is fixed', async () => {
    // A ping is one attempt, so each failed ping used to count as a delivery that failed every
    // attempt: five clicks on "test" while a receiver was being set up disabled the endpoint
    // ("failing"), and every event after that was dropped for it without a word.
    const { e, captured } = await setup();
    const hook = await createHook(e, `${upstreamOrigin()}/status/500`, ['key.created']);
    for (let i = 0; i < 6; i++) {
      const res = await admin(`/webhooks/${hook.id}/test`, { method: 'POST' }, { env: e });
      expect(await res.json(), `ping ${i + 1}`).toMatchObject({ type: 'webhook.ping', status: 'failed', last_status: 500 });
    }
    const got = (await (await admin(`/webhooks/${hook.id}`, {}, { env: e })).json()) as { enabled: boolean; failure_count: number };
    expect(got).toMatchObject({ enabled: true, failure_count: 0 });
    await admin(`/webhooks/${hook.id}`, { method: 'PATCH', json: { url: `${upstreamOrigin()}/hook` } }, { env: e });
    await createKey({ name: 'after pings' }, { env: e });
    await pump(e, captured);
    expect((await deliveries(e, hook.id)).filter((d) => d.type === 'key.created').map((d) => d.status)).toEqual(['succeeded']);
  });

  it('sends limit.exceeded once per key, window and period, and budget events once per period', async () => {
    const { e, captured } = await setup([
      { path: '/demo', upstream: upstreamOrigin(), limits: { rpm: 1 } },
      { path: '/paid', upstream: upstreamOrigin(), budget: { usd: 0.5, period: 'day' }, metering: { format: 'header', header: 'x-usage-units', default_reservation: 1 } },
    ]);
    const hook = await createHook(e, `${upstreamOrigin()}/hook`, ['limit.exceeded', 'budget.exhausted', 'budget.threshold']);
    const k = await createKey({}, { env: e });
    // Once per window and period: the requests must not straddle a minute (or day) boundary.
    await awayFromMinuteEdge();
    for (let i = 0; i < 4; i++) await call('/demo/x', { headers: bearer(k.key) }, { env: e });
    for (let i = 0; i < 3; i++) await call('/paid/usage-header?units=100000', { headers: bearer(k.key) }, { env: e });
    await pump(e, captured);
    const types = (await deliveries(e, hook.id)).map((d) => d.type).sort();
    expect(types.filter((t) => t === 'limit.exceeded')).toHaveLength(1);
    expect(types.filter((t) => t === 'budget.exhausted')).toHaveLength(1);
    expect(types.filter((t) => t === 'budget.threshold')).toHaveLength(1);
  });
});
