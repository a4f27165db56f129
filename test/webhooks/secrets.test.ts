// Webhook signing secrets at rest: sealed under SECRETS_MASTER_KEY in D1, opened only to sign
// a delivery, shown once. Legacy plaintext rows keep delivering and get sealed; a missing or
// wrong master never lets an unsigned delivery out.

import { env } from 'cloudflare:workers';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/env';
import type { DeliveryJob } from '../../src/events/messages';
import { runCleanup } from '../../src/scheduled';
import { newSecret } from '../../src/webhooks/signing';
import { admin, createKey, testEnv, webhookReceiver, type ErrorJson } from '../harness/gateway';
import { capturingQueue, consume } from '../events/queue';

interface Row {
  id: string;
  secret: string | null;
  sealed_secret: string | null;
  master_version: string | null;
}

interface DeliveryView {
  message_id: string;
  status: string;
  last_status: number | null;
  last_error: string | null;
  attempt_log: { status: number | null; error: string | null }[];
}

const randomMaster = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

async function setup(overrides: Partial<Env> = {}) {
  // Storage is shared by the tests of this file: earlier tests' endpoints stop receiving.
  await env.DB.prepare('UPDATE webhook_endpoints SET enabled = 0').run();
  const captured = capturingQueue();
  return { e: testEnv({ EVENTS: captured.queue, WEBHOOKS_ALLOW_PRIVATE: 'true', ...overrides }), captured };
}

async function createHook(e: Env, url: string) {
  const res = await admin('/webhooks', { method: 'POST', json: { url, events: ['key.created'] } }, { env: e });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; secret: string };
}

/** An endpoint as stored before secrets were sealed: the plaintext in `secret`. */
async function insertLegacy(url: string): Promise<{ id: string; secret: string }> {
  const id = `whe_${crypto.randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase()}`;
  const secret = newSecret();
  // Created now: earlier tests' events (still in the audit lookback) are not for it.
  const at = Date.now();
  await env.DB.prepare(
    `INSERT INTO webhook_endpoints (id, url, description, events, secret, enabled, failure_count, created_at, updated_at) VALUES (?, ?, '', '["key.created"]', ?, 1, 0, ?, ?)`,
  )
    .bind(id, url, secret, at, at)
    .run();
  return { id, secret };
}

const row = (id: string) => env.DB.prepare('SELECT * FROM webhook_endpoints WHERE id = ?').bind(id).first<Row>();

async function ping(e: Env, id: string): Promise<DeliveryView> {
  const res = await admin(`/webhooks/${id}/test`, { method: 'POST' }, { env: e });
  expect(res.status).toBe(200);
  return (await res.json()) as DeliveryView;
}

/** Runs the consumer on everything queued so far (first attempts only). */
async function pump(e: Env, captured: ReturnType<typeof capturingQueue>) {
  for (let i = 0; i < 5; i++) {
    const ready = captured.sent.splice(0).filter((s) => !s.delaySeconds).map((s) => s.body as DeliveryJob);
    if (ready.length === 0) return;
    await consume(e, ready);
  }
}

function verifies(secret: string, got: { headers: Record<string, string>; body: string }): boolean {
  try {
    new Webhook(secret).verify(got.body, got.headers);
    return true;
  } catch {
    return false;
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('webhook signing secrets at rest', () => {
  it('stores a new secret only sealed: the D1 row holds no part of the secret the create response showed', async () => {
    const { e } = await setup();
    const hook = await createHook(e, webhookReceiver().url);
    const r = await row(hook.id);
    expect(r).toMatchObject({ secret: null, sealed_secret: expect.any(String), master_version: expect.any(String) });
    const stored = JSON.stringify(r);
    expect(stored).not.toContain(hook.secret);
    expect(stored).not.toContain(hook.secret.slice('whsec_'.length, 'whsec_'.length + 16));
    for (const path of [`/webhooks/${hook.id}`, '/webhooks']) {
      const text = await (await admin(path, {}, { env: e })).text();
      expect(text).not.toContain(hook.secret);
      expect(text).not.toContain(r?.sealed_secret);
    }
  });

  it('signs a queued delivery that a real local receiver verifies with the secret from the create response', async () => {
    const { e, captured } = await setup();
    const receiver = webhookReceiver();
    const hook = await createHook(e, receiver.url);
    await createKey({ name: 'sealed secret' }, { env: e });
    await pump(e, captured);
    const got = await receiver.received();
    expect(got).toHaveLength(1);
    expect(verifies(hook.secret, got[0]!)).toBe(true);
    expect(verifies(newSecret(), got[0]!)).toBe(false);
    expect(JSON.parse(got[0]!.body)).toMatchObject({ type: 'key.created' });
  });

  it('delivers from an endpoint stored in plaintext before sealing, and seals it on that delivery', async () => {
    const { e, captured } = await setup();
    const receiver = webhookReceiver();
    const legacy = await insertLegacy(receiver.url);
    await createKey({ name: 'legacy a' }, { env: e });
    await pump(e, captured);
    const r = await row(legacy.id);
    expect(r).toMatchObject({ secret: null, sealed_secret: expect.any(String), master_version: expect.any(String) });
    expect(JSON.stringify(r)).not.toContain(legacy.secret);
    // Opened from the sealed value now: the receiver's secret is unchanged.
    await createKey({ name: 'legacy b' }, { env: e });
    await pump(e, captured);
    const got = await receiver.received();
    expect(got).toHaveLength(2);
    expect(got.every((g) => verifies(legacy.secret, g))).toBe(true);
  });

  it('seals plaintext secrets of endpoints that get no events at the next cron run', async () => {
    const { e } = await setup();
    const idle = await insertLegacy(webhookReceiver().url);
    const report = await runCleanup(e);
    expect(report.webhookSecretsSealed).toBeGreaterThanOrEqual(1);
    expect(await row(idle.id)).toMatchObject({ secret: null, sealed_secret: expect.any(String) });
  });

  it('re-seals a secret under the new master after a rotation, and delivers across it', async () => {
    const { e } = await setup();
    const receiver = webhookReceiver();
    const hook = await createHook(e, receiver.url);
    const before = await row(hook.id);
    const next = randomMaster();
    const rotated = { ...e, SECRETS_MASTER_KEY: next, SECRETS_MASTER_KEY_PREVIOUS: e.SECRETS_MASTER_KEY };
    expect(await ping(rotated, hook.id)).toMatchObject({ status: 'succeeded', last_status: 204 });
    const after = await row(hook.id);
    expect(after?.master_version).not.toBe(before?.master_version);
    // The previous master is no longer needed for this endpoint.
    expect(await ping({ ...e, SECRETS_MASTER_KEY: next }, hook.id)).toMatchObject({ status: 'succeeded' });
    const got = await receiver.received();
    expect(got).toHaveLength(2);
    expect(got.every((g) => verifies(hook.secret, g))).toBe(true);
  });
});

describe('webhook signing secrets without their master key', () => {
  it('refuses to create an endpoint without SECRETS_MASTER_KEY: 500 config_invalid in the error shape, nothing stored', async () => {
    const { e } = await setup({ SECRETS_MASTER_KEY: undefined });
    const count = async () => (await env.DB.prepare('SELECT COUNT(*) AS n FROM webhook_endpoints').first<{ n: number }>())?.n;
    const n = await count();
    const res = await admin('/webhooks', { method: 'POST', json: { url: webhookReceiver().url, events: ['key.created'] } }, { env: e });
    expect(res.status).toBe(500);
    const body = (await res.json()) as ErrorJson;
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code).toBe('config_invalid');
    expect(body.error.message).toMatch(/SECRETS_MASTER_KEY is not set/);
    expect(body.error.request_id).toMatch(/^req_/);
    expect(JSON.stringify(body)).not.toMatch(/stack|\.ts:\d+/);
    expect(await count()).toBe(n);
  });

  it('records a failed attempt with the reason and sends nothing when SECRETS_MASTER_KEY is missing; the endpoint is not blamed', async () => {
    const { e } = await setup();
    const receiver = webhookReceiver();
    const hook = await createHook(e, receiver.url);
    const noMaster = { ...e, SECRETS_MASTER_KEY: undefined };
    for (let i = 0; i < 6; i++) {
      const d = await ping(noMaster, hook.id);
      expect(d).toMatchObject({ status: 'failed', last_status: null });
      expect(d.attempt_log).toEqual([expect.objectContaining({ status: null, error: 'signing secret not opened: SECRETS_MASTER_KEY is not set' })]);
    }
    expect(await receiver.received()).toEqual([]);
    // Six exhausted deliveries, none the receiver's doing: it stays enabled.
    const got = (await (await admin(`/webhooks/${hook.id}`, {}, { env: e })).json()) as { enabled: boolean; failure_count: number };
    expect(got).toMatchObject({ enabled: true, failure_count: 0 });
    // With the master back, it delivers again.
    expect(await ping(e, hook.id)).toMatchObject({ status: 'succeeded' });
  });

  it('keeps delivering a legacy plaintext endpoint without SECRETS_MASTER_KEY, and the cron says it is not sealed', async () => {
    const { e } = await setup();
    const receiver = webhookReceiver();
    const legacy = await insertLegacy(receiver.url);
    const noMaster = { ...e, SECRETS_MASTER_KEY: undefined };
    expect(await ping(noMaster, legacy.id)).toMatchObject({ status: 'succeeded' });
    expect(verifies(legacy.secret, (await receiver.received())[0]!)).toBe(true);
    expect((await row(legacy.id))?.secret).toBe(legacy.secret);
    const warn = vi.spyOn(console, 'warn');
    await runCleanup(noMaster);
    const line = warn.mock.calls.map((c) => String(c[0])).find((l) => l.includes('webhook_secrets_not_sealed'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ level: 'warn', endpoints: expect.any(Number), message: 'SECRETS_MASTER_KEY is not set' });
    expect(line).not.toContain(legacy.secret);
  });

  it('fails the delivery with a clear reason, unsent, under a master that did not seal the secret', async () => {
    const { e } = await setup();
    const receiver = webhookReceiver();
    const hook = await createHook(e, receiver.url);
    const d = await ping({ ...e, SECRETS_MASTER_KEY: randomMaster() }, hook.id);
    expect(d).toMatchObject({ status: 'failed', last_status: null });
    expect(d.last_error).toMatch(/^signing secret not opened: sealed under a master key that is neither SECRETS_MASTER_KEY nor SECRETS_MASTER_KEY_PREVIOUS/);
    expect(await receiver.received()).toEqual([]);
  });

  it('does not open a sealed secret copied onto another endpoint (bound to its endpoint id)', async () => {
    const { e } = await setup();
    const receiver = webhookReceiver();
    const a = await createHook(e, receiver.url);
    const b = await createHook(e, receiver.url);
    await env.DB.prepare('UPDATE webhook_endpoints SET sealed_secret = (SELECT sealed_secret FROM webhook_endpoints WHERE id = ?) WHERE id = ?').bind(a.id, b.id).run();
    expect((await ping(e, b.id)).last_error).toMatch(/^signing secret not opened/);
    expect(await receiver.received()).toEqual([]);
  });
});

describe('webhook signing secrets stay out of records and logs', () => {
  it('leaves no secret, sealed or plain, in deliveries, attempts, messages, the audit log or the logs', async () => {
    const { e, captured } = await setup();
    const logged: string[] = [];
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(' ')));
    }
    const hook = await createHook(e, webhookReceiver().url);
    const legacy = await insertLegacy(webhookReceiver().url);
    await createKey({ name: 'quiet' }, { env: e });
    await pump(e, captured);
    await ping({ ...e, SECRETS_MASTER_KEY: randomMaster() }, hook.id);
    await runCleanup(e);
    const sealed = [(await row(hook.id))?.sealed_secret, (await row(legacy.id))?.sealed_secret].filter((s): s is string => !!s);
    expect(sealed).toHaveLength(2);
    const records: string[] = [];
    for (const table of ['webhook_deliveries', 'webhook_attempts', 'webhook_messages', 'audit_log']) {
      records.push(JSON.stringify((await env.DB.prepare(`SELECT * FROM ${table}`).all()).results));
    }
    records.push(await (await admin(`/webhooks/${hook.id}/deliveries`, {}, { env: e })).text());
    const everything = [...records, ...logged].join('\n');
    for (const needle of [hook.secret, legacy.secret, ...sealed, e.SECRETS_MASTER_KEY as string]) expect(everything).not.toContain(needle);
  });
});
