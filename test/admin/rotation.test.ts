// Key rotation: a successor with the same settings, the old key refused at once or after a
// grace period, at most one successor per key, safe retries with Idempotency-Key, and no
// plaintext left behind in D1 or KV.

import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { admin, bearer, call, createKey, type CreatedKey, type ErrorJson } from '../harness/gateway';
import { awayFromMinuteEdge } from '../limits/stores';

interface KeyJson {
  id: string;
  status: string;
  expires_at: string | null;
  rotated_to: string | null;
  [field: string]: unknown;
}
interface Rotated extends KeyJson {
  key: string;
  previous: KeyJson;
  replayed: boolean;
}

const uniq = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;
const randomPart = (key: string) => key.slice(key.lastIndexOf('_') + 1, -6);

function rotate(id: string, body: Record<string, unknown> = {}, idempotencyKey?: string): Promise<Response> {
  return admin(`/keys/${id}/rotate`, { method: 'POST', json: body, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
}

async function rotated(res: Response): Promise<Rotated> {
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Rotated;
}

async function gatewayOutcome(key: string) {
  const res = await call('/demo/x', { headers: bearer(key) });
  if (res.status === 200) return { status: 200, code: 'ok' };
  return { status: res.status, code: ((await res.json()) as ErrorJson).error.code };
}

async function keysOf(owner: string): Promise<KeyJson[]> {
  const res = await admin(`/keys?owner=${encodeURIComponent(owner)}&limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: KeyJson[] }).keys;
}

async function outcome(res: Response) {
  if (res.status === 200) return { status: 200, code: 'ok' };
  return { status: res.status, code: ((await res.json()) as ErrorJson).error.code };
}

/** A key with non-default settings, so the successor can be checked to carry them all. */
function createRich(owner: string): Promise<CreatedKey> {
  return createKey({
    owner,
    name: 'rotating key',
    description: 'rotated in tests',
    type: 'service',
    scopes: ['read', 'write', 'reports'],
    tags: ['rotation'],
    metadata: { tier: 'gold' },
    limits: { rpm: 1000 },
    budget: { usd: 5, period: 'month' },
  });
}

const SETTINGS = ['name', 'description', 'owner', 'type', 'scopes', 'tags', 'metadata', 'allowed_ips', 'allowed_referers', 'limits', 'model_limits', 'budget', 'prefix'] as const;
const settingsOf = (k: Record<string, unknown>) => Object.fromEntries(SETTINGS.map((f) => [f, k[f]]));

afterEach(() => {
  vi.useRealTimers();
});

describe('rotation', () => {
  it('with grace_seconds 0 refuses the old key at once and issues a working successor with the same settings', async () => {
    const owner = uniq('rotate-now');
    const old = await createRich(owner);
    // Used first, so the old key sits in every cache tier.
    expect(await gatewayOutcome(old.key)).toEqual({ status: 200, code: 'ok' });

    const out = await rotated(await rotate(old.id, { grace_seconds: 0 }));
    expect(out.id).not.toBe(old.id);
    expect(out.key).not.toBe(old.key);
    expect(out.key).toMatch(/^kg_live_[0-9A-Za-z]{38}$/);
    expect(out.replayed).toBe(false);
    expect(out.previous).toMatchObject({ id: old.id, rotated_to: out.id });
    expect(out).toMatchObject({ status: 'active', rotated_to: null, ...settingsOf(old) });

    expect(await gatewayOutcome(old.key)).toEqual({ status: 401, code: 'key_expired' });
    expect(await gatewayOutcome(out.key)).toEqual({ status: 200, code: 'ok' });
    const stored = (await (await admin(`/keys/${old.id}`)).json()) as KeyJson;
    expect(stored).toMatchObject({ rotated_to: out.id, status: 'expired' });
  });

  it('with a grace period keeps both keys working until it ends, then refuses the old one with key_expired', async () => {
    const owner = uniq('rotate-grace');
    const old = await createRich(owner);
    const before = Date.now();
    const out = await rotated(await rotate(old.id, { grace_seconds: 3600 }));
    expect(Date.parse(out.previous.expires_at!)).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(Date.parse(out.previous.expires_at!)).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(out.expires_at).toBeNull();

    expect(await gatewayOutcome(old.key)).toEqual({ status: 200, code: 'ok' });
    expect(await gatewayOutcome(out.key)).toEqual({ status: 200, code: 'ok' });

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3_590_000);
    expect(await gatewayOutcome(old.key)).toEqual({ status: 200, code: 'ok' });
    vi.setSystemTime(Date.now() + 11_000);
    expect(await gatewayOutcome(old.key)).toEqual({ status: 401, code: 'key_expired' });
    expect(await gatewayOutcome(out.key)).toEqual({ status: 200, code: 'ok' });
  });

  it('never extends an expiry the old key already had, and the successor keeps that expiry', async () => {
    const old = await createKey({ owner: uniq('rotate-expiring'), ttl_seconds: 600 });
    const out = await rotated(await rotate(old.id, { grace_seconds: 7200 }));
    expect(out.previous.expires_at).toBe(old.expires_at);
    expect(out.expires_at).toBe(old.expires_at);
  });

  it('refuses to rotate the same key twice (409), but the successor can be rotated', async () => {
    const owner = uniq('rotate-twice');
    const old = await createKey({ owner });
    const first = await rotated(await rotate(old.id, { grace_seconds: 60 }));
    expect(await outcome(await rotate(old.id, { grace_seconds: 60 }))).toEqual({ status: 409, code: 'conflict' });
    const second = await rotated(await rotate(first.id));
    expect(second.previous.id).toBe(first.id);
    expect((await keysOf(owner)).map((k) => k.id).sort()).toEqual([old.id, first.id, second.id].sort());
  });

  it('refuses to rotate a revoked key (409) or a key that does not exist (404)', async () => {
    const k = await createKey();
    await admin(`/keys/${k.id}/revoke`, { method: 'POST', json: { reason: 'gone' } });
    expect(await outcome(await rotate(k.id))).toEqual({ status: 409, code: 'conflict' });
    expect(await outcome(await rotate('key_00000000000000000000000000'))).toEqual({ status: 404, code: 'not_found' });
  });

  it('audits the rotation on the old key and the creation of the successor', async () => {
    const old = await createKey();
    const out = await rotated(await rotate(old.id));
    const entries = async (id: string) => ((await (await admin(`/audit?key_id=${id}`)).json()) as { entries: { action: string; actor: string; changes: string[] }[] }).entries;
    expect((await entries(old.id))[0]).toMatchObject({ action: 'rotate', actor: 'admin_token', changes: ['rotated_to', 'expires_at'] });
    expect((await entries(out.id)).map((e) => e.action)).toEqual(['create']);
  });

  it('concurrent rotations of one key without an Idempotency-Key issue exactly one successor', async () => {
    const owner = uniq('rotate-race');
    const old = await createKey({ owner });
    const results = await Promise.all(Array.from({ length: 5 }, () => rotate(old.id).then(outcome)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(4);
    expect(await keysOf(owner)).toHaveLength(2);
  });
});

describe('rotation with an Idempotency-Key', () => {
  it('replays the first result for sequential retries and issues exactly one new key', async () => {
    const owner = uniq('idem-seq');
    const old = await createKey({ owner });
    const idem = `retry-${crypto.randomUUID()}`;
    const runs = [await rotated(await rotate(old.id, {}, idem)), await rotated(await rotate(old.id, {}, idem)), await rotated(await rotate(old.id, { grace_seconds: 99 }, idem))];
    expect(runs.map((r) => r.replayed)).toEqual([false, true, true]);
    expect(new Set(runs.map((r) => r.id)).size).toBe(1);
    expect(new Set(runs.map((r) => r.key)).size).toBe(1);
    expect(runs.every((r) => r.previous.id === old.id && r.previous.rotated_to === runs[0]!.id)).toBe(true);
    expect((await keysOf(owner)).map((k) => k.id).sort()).toEqual([old.id, runs[0]!.id].sort());
    expect(await gatewayOutcome(runs[0]!.key)).toEqual({ status: 200, code: 'ok' });
  });

  it('replays the same result to 5 concurrent retries and issues exactly one new key', async () => {
    const owner = uniq('idem-concurrent');
    const old = await createKey({ owner });
    const idem = `concurrent-${crypto.randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 5 }, () => rotate(old.id, {}, idem)));
    const outcomes = await Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Partial<Rotated> & Partial<ErrorJson> })));
    expect(outcomes.map((o) => o.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(outcomes.map((o) => o.body.id)).size).toBe(1);
    expect(new Set(outcomes.map((o) => o.body.key)).size).toBe(1);
    expect(outcomes.filter((o) => o.body.replayed === false)).toHaveLength(1);
    expect(outcomes.filter((o) => o.body.replayed === true)).toHaveLength(4);
    expect(await keysOf(owner)).toHaveLength(2);
  });

  it('refuses a different Idempotency-Key on a key that was already rotated (409)', async () => {
    const owner = uniq('idem-other');
    const old = await createKey({ owner });
    await rotated(await rotate(old.id, {}, `first-${crypto.randomUUID()}`));
    expect(await outcome(await rotate(old.id, {}, `second-${crypto.randomUUID()}`))).toEqual({ status: 409, code: 'conflict' });
    expect(await keysOf(owner)).toHaveLength(2);
  });

  it('binds an Idempotency-Key to the key being rotated: the same value on another key rotates that key', async () => {
    const a = await createKey({ owner: uniq('idem-a') });
    const b = await createKey({ owner: uniq('idem-b') });
    const idem = `shared-${crypto.randomUUID()}`;
    const ra = await rotated(await rotate(a.id, {}, idem));
    const rb = await rotated(await rotate(b.id, {}, idem));
    expect(rb.replayed).toBe(false);
    expect(rb.previous.id).toBe(b.id);
    expect(rb.id).not.toBe(ra.id);
    expect(rb.key).not.toBe(ra.key);
  });

  it('refuses an Idempotency-Key shorter than 8 characters, naming the header', async () => {
    const k = await createKey();
    const res = await rotate(k.id, {}, 'short');
    expect(res.status).toBe(400);
    const e = ((await res.json()) as ErrorJson).error;
    expect(e.code).toBe('validation_failed');
    expect(e.details?.map((d) => d.path)).toEqual(['header.idempotency-key']);
    expect(((await (await admin(`/keys/${k.id}`)).json()) as KeyJson).rotated_to).toBeNull();
  });

  it('leaves no plaintext (old or new) and no Idempotency-Key in any D1 table or KV value', async () => {
    const old = await createKey({ owner: uniq('no-plaintext') });
    const idem = `secret-idem-${crypto.randomUUID()}`;
    const out = await rotated(await rotate(old.id, { grace_seconds: 60 }, idem));
    await rotated(await rotate(old.id, {}, idem));

    const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all<{ name: string }>();
    const names = tables.results.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['keys', 'audit_log', 'idempotency']));
    const needles = [out.key, old.key, randomPart(out.key), randomPart(old.key), idem];
    let rowsSeen = 0;
    for (const name of names) {
      const rows = (await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results;
      rowsSeen += rows.length;
      const dump = JSON.stringify(rows);
      for (const needle of needles) expect(dump.includes(needle), `${name} contains a secret`).toBe(false);
    }
    // The tables were really searched: the idempotency record exists (sealed).
    const idemRows = (await env.DB.prepare('SELECT * FROM idempotency').all()).results;
    expect(idemRows.length).toBeGreaterThan(0);
    expect(rowsSeen).toBeGreaterThan(idemRows.length);

    let cursor: string | undefined;
    do {
      const page = await env.KEYS.list({ cursor });
      for (const { name } of page.keys) {
        const value = (await env.KEYS.get(name)) ?? '';
        for (const needle of needles) expect(`${name} ${value}`.includes(needle), `KV ${name} contains a secret`).toBe(false);
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
  });
});

describe('a successor inherits its predecessor\'s state and counters', () => {
  it('rotating a deactivated key yields a deactivated successor, refused until activated', async () => {
    const old = await createKey({ name: uniq('rotate-inactive') });
    expect((await admin(`/keys/${old.id}/deactivate`, { method: 'POST' })).status).toBe(200);
    const out = await rotated(await rotate(old.id, { grace_seconds: 0 }));
    expect(out).toMatchObject({ status: 'inactive', is_active: false });
    expect(await gatewayOutcome(out.key)).toEqual({ status: 403, code: 'key_inactive' });
    expect((await admin(`/keys/${out.id}/activate`, { method: 'POST' })).status).toBe(200);
    expect(await gatewayOutcome(out.key)).toEqual({ status: 200, code: 'ok' });
  });

  it('a successor counts on in its predecessor\'s windows: rotation does not reset a spent limit', async () => {
    // Stay inside one minute window for the whole test.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
    const old = await createKey({ name: uniq('rotate-counters'), limits: { rpm: 2 } });
    expect(await gatewayOutcome(old.key)).toEqual({ status: 200, code: 'ok' });
    expect(await gatewayOutcome(old.key)).toEqual({ status: 200, code: 'ok' });
    expect(await gatewayOutcome(old.key)).toEqual({ status: 429, code: 'rate_limited' });
    const out = await rotated(await rotate(old.id, { grace_seconds: 0 }));
    expect(await gatewayOutcome(out.key)).toEqual({ status: 429, code: 'rate_limited' });
    const usage = (await (await admin(`/keys/${out.id}/usage`)).json()) as { windows: { name: string; used: number }[] };
    expect(usage.windows.find((w) => w.name === 'rpm')?.used).toBe(2);
    // Its own marker stays its own: the old key's expiry does not refuse the successor.
    expect(await gatewayOutcome(old.key)).toEqual({ status: 401, code: 'key_expired' });
  });

  it('a second rotation keeps the same lineage', async () => {
    const first = await createKey({ name: uniq('rotate-twice'), limits: { rpm: 1000 } });
    await awayFromMinuteEdge(); // the usage read counts both requests in this minute's rpm window
    await gatewayOutcome(first.key);
    const second = await rotated(await rotate(first.id, { grace_seconds: 0 }));
    await gatewayOutcome(second.key);
    const third = await rotated(await rotate(second.id, { grace_seconds: 0 }));
    const usage = (await (await admin(`/keys/${third.id}/usage`)).json()) as { windows: { name: string; used: number }[] };
    expect(usage.windows.find((w) => w.name === 'rpm')?.used).toBeGreaterThanOrEqual(2);
    const row = await env.DB.prepare('SELECT counter_id FROM keys WHERE id = ?').bind(third.id).first<{ counter_id: string }>();
    expect(row?.counter_id).toBe(first.id);
  });
});
