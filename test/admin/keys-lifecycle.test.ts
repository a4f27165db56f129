// The key lifecycle over the admin API: create, validate, read, update, activate and
// deactivate, revoke, extend, delete, find and list, and what the gateway does with the
// key after each change.

import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { digestKey } from '../../src/keys/digest';
import { generateKey } from '../../src/keys/key-format';
import { KV_PREFIX } from '../../src/keys/key-store';
import { admin, bearer, call, createKey, testEnv, type CreatedKey, type ErrorJson } from '../harness/gateway';

interface KeyJson {
  id: string;
  display: string;
  prefix: string;
  start: string;
  end: string;
  name: string;
  owner: string | null;
  status: string;
  is_active: boolean;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_reason: string | null;
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}
interface KeyList {
  keys: KeyJson[];
  next_cursor: string | null;
}
interface AuditEntry {
  actor: string;
  action: string;
  key_id: string;
  changes: string[];
}

const uniq = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;
const randomPart = (key: string) => key.slice(key.lastIndexOf('_') + 1, -6);

async function errorOf(res: Response) {
  return ((await res.json()) as ErrorJson).error;
}

/** Status and code of a refusal, plus the failing paths the error names. */
async function refusal(res: Response) {
  const e = await errorOf(res);
  return { status: res.status, code: e.code, paths: (e.details ?? []).map((d) => d.path) };
}

async function getKey(id: string): Promise<KeyJson> {
  const res = await admin(`/keys/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as KeyJson;
}

async function list(query: string): Promise<KeyJson[]> {
  const res = await admin(`/keys?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as KeyList).keys;
}

async function audit(keyId: string): Promise<AuditEntry[]> {
  return ((await (await admin(`/audit?key_id=${keyId}`)).json()) as { entries: AuditEntry[] }).entries;
}

const gateway = (key: string) => call('/demo/x', { headers: bearer(key) });

async function gatewayOutcome(key: string) {
  const res = await gateway(key);
  if (res.status === 200) return { status: 200, code: 'ok' };
  return { status: res.status, code: (await errorOf(res)).code };
}

const post = (path: string, json?: unknown) => admin(path, json === undefined ? { method: 'POST' } : { method: 'POST', json });

afterEach(() => {
  vi.useRealTimers();
});

describe('creating keys', () => {
  it('stores every field given and returns the plaintext once, shaped <prefix>_<random><checksum>', async () => {
    const e = testEnv({ KEY_PREFIXES: ['kg_live', 'kg_test'] });
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const body = {
      name: 'billing worker',
      description: 'runs the nightly invoices',
      owner: uniq('team billing'),
      type: 'service',
      scopes: ['read', 'reports'],
      tags: ['team:billing', 'env.prod'],
      metadata: { plan: 'pro', seats: 3, nested: { list: [1, 'two', null] } },
      allowed_ips: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'],
      allowed_referers: ['example.com', '*.example.org'],
      limits: { rpm: 100, rpd: 1000, tpm: 5000, tpd: 50_000 },
      model_limits: { 'gpt-4o': { tpm: 1000 } },
      budget: { usd: 12.5, period: 'month' },
      expires_at: expiresAt,
      prefix: 'kg_test',
    };
    const res = await admin('/keys', { method: 'POST', json: body }, { env: e });
    expect(res.status).toBe(201);
    const created = (await res.json()) as KeyJson & { key: string };
    const { prefix: _p, ...fields } = body;
    expect(created).toMatchObject({
      ...fields,
      prefix: 'kg_test',
      status: 'active',
      is_active: true,
      revoked_at: null,
      revoked_reason: null,
      last_used_at: null,
      rotated_to: null,
    });
    expect(created.key).toMatch(/^kg_test_[0-9A-Za-z]{38}$/);
    expect(created.id).toMatch(/^key_[0-9A-Z]{26}$/);
    expect(created.start).toBe(randomPart(created.key).slice(0, 4));
    expect(created.end).toBe(randomPart(created.key).slice(-4));
    expect(created.display).toBe(`kg_test_${created.start}…${created.end}`);
    expect(created).not.toHaveProperty('digest');
    expect(Date.parse(created.created_at)).toBeLessThanOrEqual(Date.now());

    // Read back: the same fields, without the plaintext.
    const { key: _k, ...stored } = created;
    expect(await getKey(created.id)).toEqual(stored);
    // The kg_test key works through the gateway of a deployment that accepts kg_test
    // (its IP allowlist includes the caller).
    const viaGateway = await call('/custom/r', { headers: bearer(created.key, { 'cf-connecting-ip': '10.1.2.3', referer: 'https://example.com/' }) }, { env: e });
    expect(viaGateway.status).toBe(200);
  });

  it('applies defaults for omitted fields and removes duplicate scopes and tags', async () => {
    const created = (await createKey({ scopes: ['read', 'read', 'write'], tags: ['a', 'a'] })) as CreatedKey & KeyJson;
    expect(created).toMatchObject({
      name: '',
      description: '',
      owner: null,
      type: 'user',
      scopes: ['read', 'write'],
      tags: ['a'],
      metadata: {},
      allowed_ips: [],
      allowed_referers: [],
      limits: null,
      model_limits: null,
      budget: null,
      expires_at: null,
      prefix: 'kg_live',
    });
    const plain = (await createKey()) as CreatedKey & KeyJson;
    expect(plain.scopes).toEqual(['read', 'write']);
    expect(plain.key.startsWith('kg_live_')).toBe(true);
  });

  it('turns ttl_seconds into an expiry that many seconds from now', async () => {
    const before = Date.now();
    const created = (await createKey({ ttl_seconds: 3600 })) as CreatedKey & KeyJson;
    const after = Date.now();
    const expires = Date.parse(created.expires_at!);
    expect(expires).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expires).toBeLessThanOrEqual(after + 3_600_000);
  });

  it('refuses an expiry in the past (or now), and both expires_at and ttl_seconds together', async () => {
    const past = await admin('/keys', { method: 'POST', json: { expires_at: new Date(Date.now() - 1000).toISOString() } });
    expect(await refusal(past)).toEqual({ status: 400, code: 'validation_failed', paths: ['expires_at'] });
    const both = await admin('/keys', { method: 'POST', json: { expires_at: new Date(Date.now() + 60_000).toISOString(), ttl_seconds: 60 } });
    expect(await refusal(both)).toEqual({ status: 400, code: 'validation_failed', paths: ['ttl_seconds'] });
    for (const ttl of [0, -5, 1.5]) {
      const bad = await admin('/keys', { method: 'POST', json: { ttl_seconds: ttl } });
      expect(await refusal(bad), String(ttl)).toEqual({ status: 400, code: 'validation_failed', paths: ['ttl_seconds'] });
    }
    const notADate = await admin('/keys', { method: 'POST', json: { expires_at: 'tomorrow' } });
    expect(await refusal(notADate)).toEqual({ status: 400, code: 'validation_failed', paths: ['expires_at'] });
  });

  it('refuses a prefix the deployment does not issue, naming prefix', async () => {
    const e = testEnv({ KEY_PREFIXES: ['kg_live', 'kg_test'] });
    for (const prefix of ['kg_prod', 'acme_live', 'KG_TEST', 'kg-test', '']) {
      const res = await admin('/keys', { method: 'POST', json: { prefix } }, { env: e });
      expect(await refusal(res), prefix).toEqual({ status: 400, code: 'validation_failed', paths: ['prefix'] });
    }
    // Only the default prefix configured: kg_test is refused too.
    const liveOnly = testEnv({ KEY_PREFIXES: undefined, KEY_PREFIX: 'kg_live' });
    const res = await admin('/keys', { method: 'POST', json: { prefix: 'kg_test' } }, { env: liveOnly });
    expect(await refusal(res)).toEqual({ status: 400, code: 'validation_failed', paths: ['prefix'] });
  });

  it('bounds metadata at 4096 bytes of JSON (bytes, not characters), naming metadata', async () => {
    // {"a":"…"} is 8 bytes plus the value.
    expect((await admin('/keys', { method: 'POST', json: { metadata: { a: 'x'.repeat(4088) } } })).status).toBe(201);
    const over = await admin('/keys', { method: 'POST', json: { metadata: { a: 'x'.repeat(4089) } } });
    expect(await refusal(over)).toEqual({ status: 400, code: 'validation_failed', paths: ['metadata'] });
    // 2045 two-byte characters: 2053 characters of JSON but 4098 bytes.
    const multibyte = await admin('/keys', { method: 'POST', json: { metadata: { a: 'é'.repeat(2045) } } });
    expect(await refusal(multibyte)).toEqual({ status: 400, code: 'validation_failed', paths: ['metadata'] });
  });

  it('never returns the plaintext or digest after create: not from get, list, find, update or actions', async () => {
    const owner = uniq('no-plaintext');
    const k = await createKey({ owner, name: 'secret holder' });
    const digest = digestKey(k.key);
    const responses = [
      await admin(`/keys/${k.id}`),
      await admin(`/keys?owner=${encodeURIComponent(owner)}`),
      await admin('/keys/find', { method: 'POST', json: { key: k.key } }),
      await admin(`/keys/${k.id}`, { method: 'PATCH', json: { name: 'renamed' } }),
      await post(`/keys/${k.id}/deactivate`),
      await post(`/keys/${k.id}/activate`),
      await post(`/keys/${k.id}/extend`, { ttl_seconds: 600 }),
      await admin(`/audit?key_id=${k.id}`),
      await post(`/keys/${k.id}/revoke`, { reason: 'done' }),
    ];
    for (const res of responses) {
      expect(res.status, res.url).toBe(200);
      const text = await res.text();
      expect(text).not.toContain(randomPart(k.key));
      expect(text).not.toContain(digest);
      expect(text).not.toMatch(/"(key|digest)":/);
    }
  });
});

describe('validation errors name the failing fields', () => {
  it('reports every failing field of a create body with its path', async () => {
    const res = await admin('/keys', {
      method: 'POST',
      json: {
        scopes: ['read', 'NOT A SCOPE'],
        allowed_ips: ['not-an-ip', '10.0.0.0/8'],
        allowed_referers: ['example.com', 'http://bad/path'],
        tags: ['ok', 'has space'],
        limits: { rpm: -1, tpm: 1.5 },
        type: 'robot',
        owner: 'line\nbreak',
      },
    });
    const r = await refusal(res);
    expect(r.status).toBe(400);
    expect(r.code).toBe('validation_failed');
    expect(r.paths.sort()).toEqual(['allowed_ips[0]', 'allowed_referers[1]', 'limits.rpm', 'limits.tpm', 'owner', 'scopes[1]', 'tags[1]', 'type']);
    const message = (await errorOf(await admin('/keys', { method: 'POST', json: { scopes: ['read', 'NOT A SCOPE'] } }))).message;
    expect(message).toContain('scopes[1]');
  });

  it('names limits.rpm for a negative or fractional limit, and an unknown limit name', async () => {
    for (const limits of [{ rpm: -1 }, { rpm: 0.5 }, { rpm: '10' }]) {
      const res = await admin('/keys', { method: 'POST', json: { limits } });
      expect(await refusal(res), JSON.stringify(limits)).toEqual({ status: 400, code: 'validation_failed', paths: ['limits.rpm'] });
    }
    const unknownWindow = await admin('/keys', { method: 'POST', json: { limits: { rph: 5 } } });
    expect(await refusal(unknownWindow)).toEqual({ status: 400, code: 'validation_failed', paths: ['limits.rph'] });
    const budget = await admin('/keys', { method: 'POST', json: { budget: { usd: -1, period: 'week' } } });
    expect((await refusal(budget)).paths.sort()).toEqual(['budget.period', 'budget.usd']);
  });

  it('names an unknown field as not a known field', async () => {
    const res = await admin('/keys', { method: 'POST', json: { name: 'x', colour: 'blue' } });
    const e = await errorOf(res);
    expect(res.status).toBe(400);
    expect(e.details).toEqual([{ path: 'colour', message: 'is not a known field' }]);
  });

  it('answers 400 invalid_json for a body that is not JSON', async () => {
    for (const body of ['{"name":', 'not json', '', '{"name":"x",}']) {
      const res = await call('/admin/keys', { method: 'POST', headers: bearer('test-admin-token', { 'content-type': 'application/json' }), body });
      expect(await refusal(res), JSON.stringify(body)).toEqual({ status: 400, code: 'invalid_json', paths: [] });
    }
    // Valid JSON of the wrong shape is a validation failure, not invalid JSON.
    const notAnObject = await admin('/keys', { method: 'POST', json: ['name'] });
    expect((await refusal(notAnObject)).code).toBe('validation_failed');
  });

  it('refuses a body sent without a JSON content type with 415 unsupported_media_type, never a 500', async () => {
    for (const contentType of [undefined, 'text/plain']) {
      const headers = bearer('test-admin-token', contentType ? { 'content-type': contentType } : {});
      const res = await call('/admin/keys', { method: 'POST', headers, body: '{"name":"no json content type"}' });
      expect({ contentType, status: res.status >= 400 && res.status < 500 ? '4xx' : res.status }).toEqual({ contentType, status: '4xx' });
      expect((await errorOf(res)).code).toBe('unsupported_media_type');
    }
  });

  it('names the query parameter or path parameter that failed', async () => {
    expect(await refusal(await admin('/keys?limit=0'))).toEqual({ status: 400, code: 'validation_failed', paths: ['query.limit'] });
    expect(await refusal(await admin('/keys?status=gone'))).toEqual({ status: 400, code: 'validation_failed', paths: ['query.status'] });
    expect(await refusal(await admin('/keys?cursor=key_123'))).toEqual({ status: 400, code: 'validation_failed', paths: ['query.cursor'] });
    expect(await refusal(await admin('/keys/not-a-key-id', { method: 'PATCH', json: {} }))).toEqual({ status: 400, code: 'validation_failed', paths: ['param.id'] });
  });

  it('answers 404 not_found for a well-formed id that does not exist, on every key route', async () => {
    const ghost = 'key_00000000000000000000000000';
    const attempts = [
      admin(`/keys/${ghost}`),
      admin(`/keys/${ghost}`, { method: 'PATCH', json: { name: 'x' } }),
      admin(`/keys/${ghost}`, { method: 'DELETE' }),
      post(`/keys/${ghost}/revoke`, { reason: 'x' }),
      post(`/keys/${ghost}/activate`),
      post(`/keys/${ghost}/deactivate`),
      post(`/keys/${ghost}/extend`, { ttl_seconds: 60 }),
      post(`/keys/${ghost}/rotate`, {}),
      admin(`/keys/${ghost}/usage`),
    ];
    const outcomes = await Promise.all(attempts.map(async (p) => refusal(await p)));
    expect(outcomes).toEqual(attempts.map(() => ({ status: 404, code: 'not_found', paths: [] })));
  });
});

describe('updating keys', () => {
  it('updates every mutable field, writes it through to the gateway, and audits the changed fields', async () => {
    const k = await createKey({ name: 'before', scopes: ['read'], limits: { rpm: 5 } });
    const patch = {
      name: 'after',
      description: 'new description',
      owner: uniq('new owner'),
      type: 'system',
      scopes: ['write', 'reports'],
      tags: ['patched'],
      metadata: { v: 2 },
      allowed_ips: ['192.0.2.0/24'],
      allowed_referers: ['*.example.net'],
      limits: { rpm: 50, tpd: 10 },
      model_limits: { 'claude-3-5-haiku': { rpm: 3 } },
      budget: { usd: 1, period: 'day' },
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const res = await admin(`/keys/${k.id}`, { method: 'PATCH', json: patch });
    expect(res.status).toBe(200);
    const updated = (await res.json()) as KeyJson;
    expect(updated).toMatchObject(patch);
    expect(updated).toMatchObject({ id: k.id, prefix: 'kg_live', start: k.start, end: k.end, created_at: k.created_at });
    expect(Date.parse(updated.updated_at)).toBeGreaterThan(Date.parse(k.created_at as string));
    expect(await getKey(k.id)).toEqual(updated);

    // The gateway sees the new scopes at once: GET needs `read`, which the key no longer has.
    const from = { 'cf-connecting-ip': '192.0.2.9', referer: 'https://api.example.net/' };
    const refused = await call('/demo/x', { headers: bearer(k.key, from) });
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).code).toBe('insufficient_scope');
    const allowed = await call('/demo/x', { method: 'POST', headers: bearer(k.key, from), body: 'x' });
    expect(allowed.status).toBe(200);

    const [entry] = await audit(k.id);
    expect(entry).toMatchObject({ action: 'update', actor: 'admin_token' });
    expect(entry!.changes).toEqual(
      expect.arrayContaining(['name', 'description', 'owner', 'type', 'scopes', 'tags', 'metadata', 'allowed_ips', 'allowed_referers', 'expires_at']),
    );
  });

  it('clears nullable fields with null and leaves fields that were not sent alone', async () => {
    const k = await createKey({
      name: 'keep me',
      owner: uniq('owner'),
      limits: { rpm: 5 },
      model_limits: { m: { rpm: 1 } },
      budget: { usd: 2, period: 'total' },
      ttl_seconds: 600,
    });
    const res = await admin(`/keys/${k.id}`, { method: 'PATCH', json: { owner: null, limits: null, model_limits: null, budget: null, expires_at: null } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'keep me', owner: null, limits: null, model_limits: null, budget: null, expires_at: null });
    const onlyBudget = (await (await admin(`/keys/${k.id}`, { method: 'PATCH', json: { budget: { usd: 3, period: 'day' } } })).json()) as KeyJson;
    expect(onlyBudget).toMatchObject({ name: 'keep me', limits: null, budget: { usd: 3, period: 'day' } });
  });

  it('refuses immutable fields with 400 naming each as immutable, and changes nothing', async () => {
    const k = await createKey({ name: 'immutable' });
    const res = await admin(`/keys/${k.id}`, {
      method: 'PATCH',
      json: { name: 'sneaky', id: 'key_00000000000000000000000000', prefix: 'kg_test', created_at: '2000-01-01T00:00:00Z', key: generateKey('kg_live').plaintext },
    });
    expect(res.status).toBe(400);
    const e = await errorOf(res);
    expect(e.code).toBe('validation_failed');
    expect(e.details).toEqual(
      expect.arrayContaining([
        { path: 'id', message: 'is immutable' },
        { path: 'prefix', message: 'is immutable' },
        { path: 'created_at', message: 'is immutable' },
        { path: 'key', message: 'is immutable' },
      ]),
    );
    expect(e.details).toHaveLength(4);
    for (const field of ['status', 'digest', 'revoked_at', 'is_active', 'rotated_to', 'updated_at']) {
      const one = await admin(`/keys/${k.id}`, { method: 'PATCH', json: { [field]: null } });
      expect((await errorOf(one)).details, field).toEqual([{ path: field, message: 'is immutable' }]);
    }
    const current = await getKey(k.id);
    expect(current).toMatchObject({ name: 'immutable', updated_at: k.updated_at });
    expect((await audit(k.id)).map((a) => a.action)).toEqual(['create']);
  });

  it('validates updated values like created ones, naming the field', async () => {
    const k = await createKey();
    const res = await admin(`/keys/${k.id}`, { method: 'PATCH', json: { scopes: ['ok', 'NO'], allowed_ips: ['300.1.1.1'], metadata: { a: 'x'.repeat(5000) } } });
    expect((await refusal(res)).paths.sort()).toEqual(['allowed_ips[0]', 'metadata', 'scopes[1]']);
  });
});

describe('activating, deactivating and revoking', () => {
  it('a deactivated key is refused with key_inactive until it is activated again', async () => {
    const k = await createKey();
    expect((await gateway(k.key)).status).toBe(200);
    const off = await post(`/keys/${k.id}/deactivate`);
    expect(off.status).toBe(200);
    expect(await off.json()).toMatchObject({ status: 'inactive', is_active: false });
    expect(await gatewayOutcome(k.key)).toEqual({ status: 403, code: 'key_inactive' });
    const on = await post(`/keys/${k.id}/activate`);
    expect(await on.json()).toMatchObject({ status: 'active', is_active: true });
    expect(await gatewayOutcome(k.key)).toEqual({ status: 200, code: 'ok' });
    expect((await audit(k.id)).map((a) => [a.action, a.changes])).toEqual([
      ['activate', ['is_active']],
      ['deactivate', ['is_active']],
      ['create', []],
    ]);
  });

  it('revocation stores the reason, refuses the key with key_revoked, and is final', async () => {
    const k = await createKey();
    expect((await gateway(k.key)).status).toBe(200);
    const res = await post(`/keys/${k.id}/revoke`, { reason: 'leaked in a public repo' });
    expect(res.status).toBe(200);
    const revoked = (await res.json()) as KeyJson;
    expect(revoked).toMatchObject({ status: 'revoked', revoked_reason: 'leaked in a public repo' });
    expect(Date.parse(revoked.revoked_at!)).not.toBeNaN();
    expect(await gatewayOutcome(k.key)).toEqual({ status: 401, code: 'key_revoked' });
    expect((await audit(k.id))[0]).toMatchObject({ action: 'revoke', changes: ['revoked_at', 'revoked_reason'] });

    // Nothing brings it back or changes it.
    const attempts = {
      activate: await post(`/keys/${k.id}/activate`),
      deactivate: await post(`/keys/${k.id}/deactivate`),
      update: await admin(`/keys/${k.id}`, { method: 'PATCH', json: { name: 'zombie' } }),
      extend: await post(`/keys/${k.id}/extend`, { ttl_seconds: 60 }),
      rotate: await post(`/keys/${k.id}/rotate`, {}),
    };
    const codes = Object.fromEntries(await Promise.all(Object.entries(attempts).map(async ([name, r]) => [name, `${r.status} ${(await errorOf(r)).code}`])));
    expect(codes).toEqual({ activate: '409 conflict', deactivate: '409 conflict', update: '409 conflict', extend: '409 conflict', rotate: '409 conflict' });

    // Revoking again keeps the first time and reason.
    const again = (await (await post(`/keys/${k.id}/revoke`, { reason: 'second reason' })).json()) as KeyJson;
    expect(again).toMatchObject({ status: 'revoked', revoked_reason: 'leaked in a public repo', revoked_at: revoked.revoked_at });
    expect(await gatewayOutcome(k.key)).toEqual({ status: 401, code: 'key_revoked' });
  });

  it('refuses a revocation without a reason, naming reason', async () => {
    const k = await createKey();
    expect(await refusal(await post(`/keys/${k.id}/revoke`, {}))).toEqual({ status: 400, code: 'validation_failed', paths: ['reason'] });
    expect(await refusal(await post(`/keys/${k.id}/revoke`, { reason: '' }))).toEqual({ status: 400, code: 'validation_failed', paths: ['reason'] });
    expect((await getKey(k.id)).status).toBe('active');
  });
});

describe('extending keys', () => {
  it('sets a new expiry from ttl_seconds or expires_at, or removes it with null', async () => {
    const k = await createKey({ ttl_seconds: 60 });
    const before = Date.now();
    const byTtl = (await (await post(`/keys/${k.id}/extend`, { ttl_seconds: 7200 })).json()) as KeyJson;
    expect(Date.parse(byTtl.expires_at!)).toBeGreaterThanOrEqual(before + 7_200_000);
    expect(Date.parse(byTtl.expires_at!)).toBeLessThanOrEqual(Date.now() + 7_200_000);
    const at = new Date(Date.now() + 86_400_000).toISOString();
    expect(((await (await post(`/keys/${k.id}/extend`, { expires_at: at })).json()) as KeyJson).expires_at).toBe(at);
    expect(((await (await post(`/keys/${k.id}/extend`, { expires_at: null })).json()) as KeyJson).expires_at).toBeNull();
    expect((await audit(k.id)).filter((a) => a.action === 'extend').map((a) => a.changes)).toEqual([['expires_at'], ['expires_at'], ['expires_at']]);
  });

  it('refuses a past expiry, both fields, or neither', async () => {
    const k = await createKey({ ttl_seconds: 60 });
    expect(await refusal(await post(`/keys/${k.id}/extend`, { expires_at: new Date(Date.now() - 1000).toISOString() }))).toEqual({ status: 400, code: 'validation_failed', paths: ['expires_at'] });
    expect((await refusal(await post(`/keys/${k.id}/extend`, { expires_at: null, ttl_seconds: 60 }))).status).toBe(400);
    expect(await refusal(await post(`/keys/${k.id}/extend`, {}))).toEqual({ status: 400, code: 'validation_failed', paths: ['expires_at'] });
  });

  it('brings an expired key back into service', async () => {
    const k = await createKey({ ttl_seconds: 60 });
    expect((await gateway(k.key)).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 120_000);
    expect(await gatewayOutcome(k.key)).toEqual({ status: 401, code: 'key_expired' });
    expect((await getKey(k.id)).status).toBe('expired');
    expect((await post(`/keys/${k.id}/extend`, { ttl_seconds: 3600 })).status).toBe(200);
    expect(await gatewayOutcome(k.key)).toEqual({ status: 200, code: 'ok' });
    expect((await getKey(k.id)).status).toBe('active');
  });
});

describe('deleting keys', () => {
  it('removes the key everywhere: admin reads 404, the gateway refuses it, KV forgets it', async () => {
    const k = await createKey({ name: 'to delete' });
    // Used first, so every cache tier has seen it.
    expect((await gateway(k.key)).status).toBe(200);
    expect((await gateway(k.key)).status).toBe(200);
    const digest = digestKey(k.key);
    expect(await env.KEYS.get(KV_PREFIX + digest)).not.toBeNull();

    const res = await admin(`/keys/${k.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: k.id, deleted: true });

    expect(await refusal(await admin(`/keys/${k.id}`))).toEqual({ status: 404, code: 'not_found', paths: [] });
    expect(await gatewayOutcome(k.key)).toEqual({ status: 401, code: 'invalid_key' });
    expect(await env.KEYS.get(KV_PREFIX + digest)).toBeNull();
    expect(await refusal(await admin(`/keys/${k.id}`, { method: 'DELETE' }))).toEqual({ status: 404, code: 'not_found', paths: [] });
    expect(((await (await admin('/keys/find', { method: 'POST', json: { key: k.key } })).json()) as KeyList).keys).toEqual([]);
    expect((await audit(k.id)).map((a) => a.action)).toEqual(['delete', 'create']);
  });
});

describe('finding keys', () => {
  it('finds a key by its plaintext sent in the body', async () => {
    const k = await createKey({ name: 'findable' });
    const res = await admin('/keys/find', { method: 'POST', json: { key: k.key } });
    expect(res.status).toBe(200);
    const found = (await res.json()) as KeyList;
    expect(found.keys.map((x) => x.id)).toEqual([k.id]);
    expect(found.keys[0]).not.toHaveProperty('key');
  });

  it('finds nothing for a well-formed key never issued, a garbled key, or a key with a bad checksum', async () => {
    const k = await createKey();
    const flipped = k.key.slice(0, -1) + (k.key.endsWith('A') ? 'B' : 'A');
    for (const key of [generateKey('kg_live').plaintext, 'garbage', flipped]) {
      const res = await admin('/keys/find', { method: 'POST', json: { key } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as KeyList).keys, key).toEqual([]);
    }
  });

  it('finds keys by display start and/or end characters', async () => {
    const k = await createKey({ name: 'by display' });
    const byStart = ((await (await admin('/keys/find', { method: 'POST', json: { start: k.start } })).json()) as KeyList).keys;
    expect(byStart.map((x) => x.id)).toContain(k.id);
    expect(byStart.every((x) => x.start === k.start)).toBe(true);
    const byEnd = ((await (await admin('/keys/find', { method: 'POST', json: { end: k.end } })).json()) as KeyList).keys;
    expect(byEnd.map((x) => x.id)).toContain(k.id);
    expect(byEnd.every((x) => x.end === k.end)).toBe(true);
    const both = ((await (await admin('/keys/find', { method: 'POST', json: { start: k.start, end: k.end } })).json()) as KeyList).keys;
    expect(both.map((x) => x.id)).toContain(k.id);
    expect(both.every((x) => x.start === k.start && x.end === k.end)).toBe(true);
  });

  it('refuses a find without criteria or with display parts that are not 4 characters', async () => {
    expect(await refusal(await admin('/keys/find', { method: 'POST', json: {} }))).toEqual({ status: 400, code: 'validation_failed', paths: ['key'] });
    expect(await refusal(await admin('/keys/find', { method: 'POST', json: { start: 'abc' } }))).toEqual({ status: 400, code: 'validation_failed', paths: ['start'] });
    expect(await refusal(await admin('/keys/find', { method: 'POST', json: { end: 'abcde' } }))).toEqual({ status: 400, code: 'validation_failed', paths: ['end'] });
  });
});

describe('listing keys', () => {
  it('filters by owner, tag and type', async () => {
    const owner = uniq('list owner');
    const tag = uniq('tag');
    const a = await createKey({ owner, type: 'user', tags: [tag, 'common'] });
    const b = await createKey({ owner, type: 'service', tags: ['common'] });
    const c = await createKey({ owner, type: 'system' });
    const elsewhere = await createKey({ owner: uniq('other owner'), type: 'service', tags: [tag] });
    const ids = (keys: KeyJson[]) => keys.map((x) => x.id).sort();
    const o = `owner=${encodeURIComponent(owner)}`;

    expect(ids(await list(o))).toEqual([a.id, b.id, c.id].sort());
    expect(ids(await list(`tag=${tag}`))).toEqual([a.id, elsewhere.id].sort());
    expect(ids(await list(`${o}&tag=common`))).toEqual([a.id, b.id].sort());
    expect(ids(await list(`${o}&type=service`))).toEqual([b.id]);
    expect(ids(await list(`${o}&type=system`))).toEqual([c.id]);
    expect(await list(`owner=${encodeURIComponent(uniq('nobody'))}`)).toEqual([]);
    // A tag that is a substring of another tag does not match it.
    expect(await list(`tag=${tag.slice(0, -1)}`)).toEqual([]);
  });

  it('filters by status: active, inactive, revoked and expired', async () => {
    const owner = uniq('status owner');
    const active = await createKey({ owner });
    const inactive = await createKey({ owner });
    const revoked = await createKey({ owner });
    const expiring = await createKey({ owner, ttl_seconds: 60 });
    await post(`/keys/${inactive.id}/deactivate`);
    await post(`/keys/${revoked.id}/revoke`, { reason: 'status test' });

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 120_000);
    const o = `owner=${encodeURIComponent(owner)}`;
    const byStatus: Record<string, string[]> = {};
    for (const status of ['active', 'inactive', 'revoked', 'expired']) {
      const keys = await list(`${o}&status=${status}`);
      expect(keys.every((x) => x.status === status), status).toBe(true);
      byStatus[status] = keys.map((x) => x.id);
    }
    expect(byStatus).toEqual({ active: [active.id], inactive: [inactive.id], revoked: [revoked.id], expired: [expiring.id] });
  });

  it('searches names with q, treating % and _ literally', async () => {
    const owner = uniq('q owner');
    const alpha = await createKey({ owner, name: 'Alpha search target' });
    const percent = await createKey({ owner, name: '100% discount' });
    const plain = await createKey({ owner, name: '100 discount' });
    const underscore = await createKey({ owner, name: 'snake_case' });
    await createKey({ owner, name: 'snakeXcase' });
    const o = `owner=${encodeURIComponent(owner)}`;
    const q = async (term: string) => (await list(`${o}&q=${encodeURIComponent(term)}`)).map((x) => x.id).sort();
    expect(await q('search')).toEqual([alpha.id]);
    expect(await q('100%')).toEqual([percent.id]);
    expect(await q('discount')).toEqual([percent.id, plain.id].sort());
    expect(await q('e_c')).toEqual([underscore.id]);
    expect(await q('nothing like this')).toEqual([]);
  });

  it('lists newest first', async () => {
    const owner = uniq('order owner');
    const first = await createKey({ owner });
    const second = await createKey({ owner });
    const third = await createKey({ owner });
    expect((await list(`owner=${encodeURIComponent(owner)}`)).map((x) => x.id)).toEqual([third.id, second.id, first.id]);
  });
});
