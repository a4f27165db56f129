// POST /admin/verify, the key holder's own view (/_keygate/key), the audit log, the admin
// OpenAPI document, and the scheduled expiry cleanup.

import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ERRORS } from '../../src/errors';
import { digestKey } from '../../src/keys/digest';
import { generateKey } from '../../src/keys/key-format';
import { KV_PREFIX } from '../../src/keys/key-store';
import { runCleanup } from '../../src/scheduled';
import { admin, bearer, call, createKey, testEnv, type ErrorJson } from '../harness/gateway';
import { awayFromMinuteEdge } from '../limits/stores';

interface VerifyJson {
  valid: boolean;
  code: string;
  key: Record<string, unknown> | null;
  usage: { key_id: string; windows: { name: string; limit: number; used: number; remaining: number }[] } | null;
}
interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  key_id: string | null;
  changes: string[];
}

const uniq = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;
const randomPart = (key: string) => key.slice(key.lastIndexOf('_') + 1, -6);

async function verify(body: Record<string, unknown>): Promise<VerifyJson> {
  const res = await admin('/verify', { method: 'POST', json: body });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as VerifyJson;
}

async function auditOf(keyId: string): Promise<AuditEntry[]> {
  const res = await admin(`/audit?key_id=${keyId}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: AuditEntry[] }).entries;
}

async function gatewayOutcome(key: string) {
  const res = await call('/demo/x', { headers: bearer(key) });
  if (res.status === 200) return { status: 200, code: 'ok' };
  return { status: res.status, code: ((await res.json()) as ErrorJson).error.code };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('POST /admin/verify', () => {
  it('answers valid with the redacted key (no digest, no plaintext) and its usage', async () => {
    const k = await createKey({ name: 'verified', limits: { rpm: 50 } });
    const out = await verify({ key: k.key });
    expect(out).toMatchObject({ valid: true, code: 'valid', key: { id: k.id, name: 'verified', status: 'active' } });
    expect(out.key).not.toHaveProperty('digest');
    expect(out.key).not.toHaveProperty('key');
    const text = JSON.stringify(out);
    expect(text).not.toContain(randomPart(k.key));
    expect(text).not.toContain(digestKey(k.key));
    expect(out.usage?.key_id).toBe(k.id);
    expect(out.usage?.windows).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'rpm', limit: 50 })]));
  });

  it('answers invalid_key for unknown, malformed and bad-checksum keys, alike and without a key', async () => {
    const k = await createKey();
    const flipped = k.key.slice(0, -1) + (k.key.endsWith('A') ? 'B' : 'A');
    for (const key of [generateKey('kg_live').plaintext, 'not-a-key', flipped, generateKey('acme_live').plaintext]) {
      expect(await verify({ key }), key).toEqual({ valid: false, code: 'invalid_key', key: null, usage: null });
    }
  });

  it('answers key_revoked, key_inactive and key_expired for keys in those states', async () => {
    const revoked = await createKey();
    await admin(`/keys/${revoked.id}/revoke`, { method: 'POST', json: { reason: 'verify test' } });
    expect(await verify({ key: revoked.key })).toMatchObject({ valid: false, code: 'key_revoked', key: { id: revoked.id } });

    const inactive = await createKey();
    await admin(`/keys/${inactive.id}/deactivate`, { method: 'POST' });
    expect(await verify({ key: inactive.key })).toMatchObject({ valid: false, code: 'key_inactive' });

    const expiring = await createKey({ ttl_seconds: 60 });
    expect(await verify({ key: expiring.key })).toMatchObject({ valid: true });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    expect(await verify({ key: expiring.key })).toMatchObject({ valid: false, code: 'key_expired' });
  });

  it('answers insufficient_scope when the key lacks a requested scope', async () => {
    const k = await createKey({ scopes: ['read', 'write'] });
    expect(await verify({ key: k.key, scopes: ['admin'] })).toMatchObject({ valid: false, code: 'insufficient_scope' });
    expect(await verify({ key: k.key, scopes: ['read'] })).toMatchObject({ valid: true });
    const adminKey = await createKey({ scopes: ['admin'] });
    // admin implies read and write.
    expect(await verify({ key: adminKey.key, scopes: ['admin', 'read', 'write'] })).toMatchObject({ valid: true });
  });

  it('still checks scopes for a key with an IP or referer allowlist (which verify cannot see)', async () => {
    const pinned = await createKey({ scopes: ['read'], allowed_ips: ['10.0.0.0/8'] });
    expect(await verify({ key: pinned.key })).toMatchObject({ valid: true });
    expect(await verify({ key: pinned.key, scopes: ['admin'] })).toMatchObject({ valid: false, code: 'insufficient_scope' });
    const referred = await createKey({ scopes: ['read'], allowed_referers: ['example.com'] });
    expect(await verify({ key: referred.key, scopes: ['write'] })).toMatchObject({ valid: false, code: 'insufficient_scope' });
  });

  it('with consume: true counts requests against the key’s limits: the third call at rpm 2 is rate_limited', async () => {
    const k = await createKey({ limits: { rpm: 2 } });
    await awayFromMinuteEdge();
    // Without consume nothing is counted.
    for (let i = 0; i < 3; i++) expect(await verify({ key: k.key })).toMatchObject({ valid: true });
    const first = await verify({ key: k.key, consume: true });
    const second = await verify({ key: k.key, consume: true });
    const third = await verify({ key: k.key, consume: true });
    expect([first.valid, second.valid, third.valid]).toEqual([true, true, false]);
    expect(third.code).toBe('rate_limited');
    expect(third.key).toMatchObject({ id: k.id });
    expect(second.usage?.windows.find((w) => w.name === 'rpm')).toMatchObject({ limit: 2, used: 2, remaining: 0 });
  });

  it('refuses a malformed body naming the field', async () => {
    const res = await admin('/verify', { method: 'POST', json: { key: '', scopes: ['NOT OK'] } });
    expect(res.status).toBe(400);
    const e = ((await res.json()) as ErrorJson).error;
    expect(e.code).toBe('validation_failed');
    expect(e.details?.map((d) => d.path).sort()).toEqual(['key', 'scopes[0]']);
  });
});

describe('GET /_keygate/key', () => {
  it('shows the key holder its own redacted record and usage', async () => {
    const k = await createKey({ name: 'holder view', limits: { rpm: 7 } });
    const res = await call('/_keygate/key', { headers: bearer(k.key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { key: Record<string, unknown>; usage: VerifyJson['usage'] };
    expect(body.key).toMatchObject({ id: k.id, name: 'holder view', status: 'active', display: k.display });
    expect(body.key).not.toHaveProperty('digest');
    expect(JSON.stringify(body)).not.toContain(randomPart(k.key));
    expect(body.usage?.key_id).toBe(k.id);
    expect(body.usage?.windows).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'rpm', limit: 7 })]));
  });

  it('refuses a missing, unknown or revoked key', async () => {
    const none = await call('/_keygate/key');
    expect([none.status, ((await none.json()) as ErrorJson).error.code]).toEqual([401, 'missing_key']);
    const unknown = await call('/_keygate/key', { headers: bearer(generateKey('kg_live').plaintext) });
    expect([unknown.status, ((await unknown.json()) as ErrorJson).error.code]).toEqual([401, 'invalid_key']);
    const k = await createKey();
    await admin(`/keys/${k.id}/revoke`, { method: 'POST', json: { reason: 'holder test' } });
    const revoked = await call('/_keygate/key', { headers: bearer(k.key) });
    expect([revoked.status, ((await revoked.json()) as ErrorJson).error.code]).toEqual([401, 'key_revoked']);
  });
});

describe('GET /admin/audit', () => {
  it('records create, update, rotate, revoke and delete with actor, action, key and changed fields, newest first', async () => {
    const a = await createKey({ name: 'audited', owner: uniq('audit') });
    await admin(`/keys/${a.id}`, { method: 'PATCH', json: { name: 'audited and renamed', tags: ['x'] } });
    const rotated = (await (await admin(`/keys/${a.id}/rotate`, { method: 'POST', json: { grace_seconds: 60 } })).json()) as { id: string };
    await admin(`/keys/${rotated.id}/revoke`, { method: 'POST', json: { reason: 'audit test' } });
    await admin(`/keys/${rotated.id}`, { method: 'DELETE' });

    const strip = (e: AuditEntry) => ({ actor: e.actor, action: e.action, key_id: e.key_id, changes: e.changes });
    expect((await auditOf(a.id)).map(strip)).toEqual([
      { actor: 'admin_token', action: 'rotate', key_id: a.id, changes: ['rotated_to', 'expires_at'] },
      { actor: 'admin_token', action: 'update', key_id: a.id, changes: ['name', 'tags'] },
      { actor: 'admin_token', action: 'create', key_id: a.id, changes: [] },
    ]);
    expect((await auditOf(rotated.id)).map(strip)).toEqual([
      { actor: 'admin_token', action: 'delete', key_id: rotated.id, changes: [] },
      { actor: 'admin_token', action: 'revoke', key_id: rotated.id, changes: ['revoked_at', 'revoked_reason'] },
      { actor: 'admin_token', action: 'create', key_id: rotated.id, changes: [] },
    ]);
    // Newest first across all keys, with ISO timestamps.
    const all = ((await (await admin('/audit?limit=200')).json()) as { entries: AuditEntry[] }).entries;
    const ats = all.map((e) => Date.parse(e.at));
    expect(ats.every((t) => !Number.isNaN(t))).toBe(true);
    expect(ats).toEqual([...ats].sort((x, y) => y - x));
    expect(all[0]).toMatchObject({ action: 'delete', key_id: rotated.id });
  });

  it('writes one entry per applied change, even when changes race', async () => {
    const k = await createKey();
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => admin(`/keys/${k.id}`, { method: 'PATCH', json: { name: `racer ${i}` } })));
    const applied = results.filter((r) => r.status === 200).length;
    const updates = (await auditOf(k.id)).filter((e) => e.action === 'update');
    expect(updates).toHaveLength(applied);
  });

  it('pages with a cursor without repeating entries', async () => {
    const k = await createKey();
    for (let i = 0; i < 4; i++) await admin(`/keys/${k.id}`, { method: 'PATCH', json: { name: `page ${i}` } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await admin(`/audit?key_id=${k.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      const page = (await res.json()) as { entries: AuditEntry[]; next_cursor: string | null };
      seen.push(...page.entries.map((e) => e.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });
});

describe('the admin OpenAPI document', () => {
  // Every admin route registered in src/admin/*-routes.ts and app.ts.
  const ROUTES = [
    'post /keys',
    'get /keys',
    'post /keys/find',
    'get /keys/{id}',
    'patch /keys/{id}',
    'delete /keys/{id}',
    'post /keys/{id}/revoke',
    'post /keys/{id}/activate',
    'post /keys/{id}/deactivate',
    'post /keys/{id}/extend',
    'get /keys/{id}/usage',
    'post /keys/{id}/rotate',
    'post /keys/{id}/signing-secret',
    'post /verify',
    'get /audit',
    'post /keys/{id}/credits',
    'put /owners/{owner}',
    'get /owners',
    'get /owners/{owner}',
    'delete /owners/{owner}',
    'get /owners/{owner}/usage',
    // src/admin/{logs,analytics,webhooks}-routes.ts
    'get /logs',
    'get /keys/{id}/logs',
    'get /keys/{id}/analytics',
    'get /analytics',
    'post /webhooks',
    'get /webhooks',
    'get /webhooks/{id}',
    'patch /webhooks/{id}',
    'delete /webhooks/{id}',
    'post /webhooks/{id}/test',
    'get /webhooks/{id}/deliveries',
    'post /webhooks/{id}/deliveries/{delivery_id}/replay',
  ];

  type Operation = { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> };
  interface Doc {
    openapi: string;
    servers?: { url: string }[];
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, { properties: { error: { properties: { code: { enum: string[] } } } } }>; securitySchemes: Record<string, unknown> };
  }

  async function doc(): Promise<Doc> {
    const res = await admin('/openapi.json');
    expect(res.status).toBe(200);
    return (await res.json()) as Doc;
  }

  function operations(d: Doc): [string, Operation][] {
    return Object.entries(d.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => [`${method} ${path}`, op] as [string, Operation]));
  }

  it('is OpenAPI 3.1 with the admin bearer security scheme', async () => {
    const d = await doc();
    expect(d.openapi.startsWith('3.1')).toBe(true);
    expect(d.components.securitySchemes).toHaveProperty('adminBearer');
  });

  it('documents exactly the admin routes in the source', async () => {
    expect(operations(await doc()).map(([name]) => name).sort()).toEqual([...ROUTES].sort());
  });

  it('places the documented paths under /admin, where they are served', async () => {
    const d = await doc();
    const base = (d.servers?.[0]?.url ?? '').replace(/\/$/, '');
    for (const path of Object.keys(d.paths)) expect(`${base}${path}`, path).toMatch(/^\/admin\//);
  });

  it('declares 401, 403, 429, 503, and 400 or 404 for every operation, each referencing the Error schema', async () => {
    const problems: string[] = [];
    for (const [name, op] of operations(await doc())) {
      const ref = (status: string) => op.responses[status]?.content?.['application/json']?.schema?.$ref;
      // Admin authentication answers these on any operation: a wrong credential (401), a
      // viewer's write (403), an address throttled after failed attempts (429), a store or
      // identity provider that cannot be reached to check the credential (503).
      for (const status of ['401', '403', '429', '503']) if (ref(status) !== '#/components/schemas/Error') problems.push(`${name}: ${status}`);
      if (ref('400') !== '#/components/schemas/Error' && ref('404') !== '#/components/schemas/Error') problems.push(`${name}: 400/404`);
    }
    expect(problems).toEqual([]);
  });

  it('declares the 400 every operation with a key id answers for a malformed id', async () => {
    const d = await doc();
    const undeclared: string[] = [];
    for (const [name, op] of operations(d)) {
      if (!name.includes('{id}')) continue;
      const [method, path] = name.split(' ') as [string, string];
      const res = await admin(path.replace('{id}', 'not-a-key-id'), { method: method.toUpperCase(), json: method === 'get' || method === 'delete' ? undefined : {} });
      if (op.responses[String(res.status)] === undefined) undeclared.push(`${name} answered ${res.status}`);
    }
    expect(undeclared).toEqual([]);
  });

  it('declares the 500 config_invalid that issuing a signing secret answers without SECRETS_MASTER_KEY', async () => {
    // Creating a key with "signing_secret": true and rotating a key that has one both need the
    // master (test/signing/signed-requests.test.ts shows the 500), as do the signing-secret and
    // webhook routes: a client generated from the document must expect it.
    const d = await doc();
    const undeclared = ['post /keys', 'post /keys/{id}/rotate', 'post /keys/{id}/signing-secret', 'post /webhooks'].filter((name) => {
      const [method, path] = name.split(' ') as [string, string];
      return d.paths[path]?.[method]?.responses['500'] === undefined;
    });
    expect(undeclared).toEqual([]);
  });

  it('enumerates exactly the error codes of the one error table', async () => {
    const d = await doc();
    expect(d.components.schemas.Error!.properties.error.properties.code.enum).toEqual(Object.keys(ERRORS));
  });
});

describe('scheduled cleanup', () => {
  it('handles an expired key once: removes its KV entry, audits expire, and a second run does nothing', async () => {
    const k = await createKey({ ttl_seconds: 1, name: 'short-lived' });
    const kvKey = KV_PREFIX + (digestKey(k.key));
    expect(await env.KEYS.get(kvKey)).not.toBeNull();

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_000);
    const e = testEnv();
    const first = await runCleanup(e);
    expect(first.expired).toBeGreaterThanOrEqual(1);
    expect(await env.KEYS.get(kvKey)).toBeNull();
    const [entry] = await auditOf(k.id);
    expect(entry).toMatchObject({ action: 'expire', actor: 'scheduler', key_id: k.id, changes: [] });

    const second = await runCleanup(e);
    expect(second.expired).toBe(0);
    expect((await auditOf(k.id)).filter((x) => x.action === 'expire')).toHaveLength(1);
    // Still refused, now answered from D1.
    expect(await gatewayOutcome(k.key)).toEqual({ status: 401, code: 'key_expired' });
  });

  it('records the end of a rotation grace period as rotation_grace_ended', async () => {
    const old = await createKey({ name: 'grace' });
    await admin(`/keys/${old.id}/rotate`, { method: 'POST', json: { grace_seconds: 1 } });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_000);
    await runCleanup(testEnv());
    expect((await auditOf(old.id))[0]).toMatchObject({ action: 'expire', changes: ['rotation_grace_ended'] });
    expect(await gatewayOutcome(old.key)).toEqual({ status: 401, code: 'key_expired' });
  });

  it('a key extended after cleanup handled its expiry works again, and is handled again when it next expires', async () => {
    const k = await createKey({ ttl_seconds: 1 });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_000);
    await runCleanup(testEnv());
    expect(await gatewayOutcome(k.key)).toEqual({ status: 401, code: 'key_expired' });

    expect((await admin(`/keys/${k.id}/extend`, { method: 'POST', json: { ttl_seconds: 10 } })).status).toBe(200);
    expect(await gatewayOutcome(k.key)).toEqual({ status: 200, code: 'ok' });

    vi.setSystemTime(Date.now() + 20_000);
    const again = await runCleanup(testEnv());
    expect(again.expired).toBeGreaterThanOrEqual(1);
    expect((await auditOf(k.id)).filter((x) => x.action === 'expire')).toHaveLength(2);
    expect(await gatewayOutcome(k.key)).toEqual({ status: 401, code: 'key_expired' });
  });

  it('leaves keys that have not expired alone', async () => {
    const k = await createKey({ ttl_seconds: 3600 });
    const kvKey = KV_PREFIX + (digestKey(k.key));
    await runCleanup(testEnv());
    expect(await env.KEYS.get(kvKey)).not.toBeNull();
    expect((await auditOf(k.id)).map((x) => x.action)).toEqual(['create']);
    expect(await gatewayOutcome(k.key)).toEqual({ status: 200, code: 'ok' });
  });
});
