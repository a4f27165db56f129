// MAX_KEYS_PER_OWNER: an owner never holds more usable keys than the cap, whether keys are
// created one by one, concurrently, with replace_existing, or brought back some other way.

import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import { admin, bearer, call, createKey, testEnv, type CreatedKey, type ErrorJson } from '../harness/gateway';

interface KeyJson {
  id: string;
  status: string;
  is_active: boolean;
  owner: string | null;
}

const uniq = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;

function create(e: Env, body: Record<string, unknown>): Promise<Response> {
  return admin('/keys', { method: 'POST', json: body }, { env: e });
}

async function outcome(res: Response) {
  if (res.status < 300) return { status: res.status, code: 'ok' };
  return { status: res.status, code: ((await res.json()) as ErrorJson).error.code };
}

async function gatewayOutcome(key: string, e: Env) {
  const res = await call('/demo/x', { headers: bearer(key) }, { env: e });
  if (res.status === 200) return { status: 200, code: 'ok' };
  return { status: res.status, code: ((await res.json()) as ErrorJson).error.code };
}

async function activeKeysOf(owner: string, e: Env): Promise<KeyJson[]> {
  const res = await admin(`/keys?owner=${encodeURIComponent(owner)}&status=active&limit=100`, {}, { env: e });
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: KeyJson[] }).keys;
}

describe('MAX_KEYS_PER_OWNER=1', () => {
  const e = testEnv({ MAX_KEYS_PER_OWNER: '1' });

  it('refuses a second key for the same owner with 409 conflict', async () => {
    const owner = uniq('capped');
    const first = await createKey({ owner }, { env: e });
    const second = await create(e, { owner });
    expect(await outcome(second)).toEqual({ status: 409, code: 'conflict' });
    expect((await activeKeysOf(owner, e)).map((k) => k.id)).toEqual([first.id]);
    expect(await gatewayOutcome(first.key, e)).toEqual({ status: 200, code: 'ok' });
  });

  it('with replace_existing deactivates the old key (refused with key_inactive) and the new one works', async () => {
    const owner = uniq('replaced');
    const old = await createKey({ owner }, { env: e });
    expect(await gatewayOutcome(old.key, e)).toEqual({ status: 200, code: 'ok' });
    const res = await create(e, { owner, replace_existing: true });
    expect(res.status).toBe(201);
    const fresh = (await res.json()) as CreatedKey;
    expect(await gatewayOutcome(old.key, e)).toEqual({ status: 403, code: 'key_inactive' });
    expect(await gatewayOutcome(fresh.key, e)).toEqual({ status: 200, code: 'ok' });
    const oldNow = (await (await admin(`/keys/${old.id}`, {}, { env: e })).json()) as KeyJson;
    expect(oldNow).toMatchObject({ status: 'inactive', is_active: false });
    expect((await activeKeysOf(owner, e)).map((k) => k.id)).toEqual([fresh.id]);
    const audit = ((await (await admin(`/audit?key_id=${old.id}`, {}, { env: e })).json()) as { entries: { action: string; changes: string[] }[] }).entries;
    expect(audit[0]).toMatchObject({ action: 'deactivate', changes: ['is_active'] });
  });

  it('lets exactly one of 10 concurrent creates for a fresh owner succeed', async () => {
    const owner = uniq('race');
    const results = await Promise.all(Array.from({ length: 10 }, () => create(e, { owner }).then(outcome)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409 && r.code === 'conflict')).toHaveLength(9);
    expect(await activeKeysOf(owner, e)).toHaveLength(1);
    const all = (await (await admin(`/keys?owner=${encodeURIComponent(owner)}`, {}, { env: e })).json()) as { keys: KeyJson[] };
    expect(all.keys).toHaveLength(1);
  });

  it('leaves exactly one usable key when concurrent creates all pass replace_existing', async () => {
    const owner = uniq('replace-race');
    const responses = await Promise.all(Array.from({ length: 5 }, () => create(e, { owner, replace_existing: true })));
    const created = (await Promise.all(responses.map((r) => r.json()))) as CreatedKey[];
    expect(responses.every((r) => r.status === 201)).toBe(true);
    expect(await activeKeysOf(owner, e)).toHaveLength(1);
    // What D1 says is what the gateway does: every key but the one active key is refused.
    const usable = [];
    for (const k of created) if ((await gatewayOutcome(k.key, e)).status === 200) usable.push(k.id);
    expect(usable).toEqual((await activeKeysOf(owner, e)).map((k) => k.id));
  });

  it('does not affect other owners or keys without an owner', async () => {
    const a = uniq('owner-a');
    const b = uniq('owner-b');
    await createKey({ owner: a }, { env: e });
    expect((await create(e, { owner: a })).status).toBe(409);
    expect((await create(e, { owner: b })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await create(e, { name: 'ownerless' })).status).toBe(201);
  });

  it('frees a slot when the owner’s key is revoked', async () => {
    const owner = uniq('freed');
    const k = await createKey({ owner }, { env: e });
    expect((await create(e, { owner })).status).toBe(409);
    expect((await admin(`/keys/${k.id}/revoke`, { method: 'POST', json: { reason: 'free the slot' } }, { env: e })).status).toBe(200);
    expect((await create(e, { owner })).status).toBe(201);
  });

  it('refuses to reactivate a replaced key while the owner is at the cap', async () => {
    const owner = uniq('reactivate');
    const old = await createKey({ owner }, { env: e });
    const fresh = await createKey({ owner, replace_existing: true }, { env: e });
    const res = await admin(`/keys/${old.id}/activate`, { method: 'POST' }, { env: e });
    expect(await outcome(res)).toEqual({ status: 409, code: 'conflict' });
    expect((await activeKeysOf(owner, e)).map((k) => k.id)).toEqual([fresh.id]);
    expect(await gatewayOutcome(old.key, e)).toEqual({ status: 403, code: 'key_inactive' });
  });

  it('refuses to move a key to an owner that is at the cap', async () => {
    const full = uniq('full');
    await createKey({ owner: full }, { env: e });
    const other = await createKey({ owner: uniq('mover') }, { env: e });
    const res = await admin(`/keys/${other.id}`, { method: 'PATCH', json: { owner: full } }, { env: e });
    expect(await outcome(res)).toEqual({ status: 409, code: 'conflict' });
    expect(await activeKeysOf(full, e)).toHaveLength(1);
  });
});

describe('MAX_KEYS_PER_OWNER=3', () => {
  const e = testEnv({ MAX_KEYS_PER_OWNER: '3' });

  it('allows exactly 3 keys per owner', async () => {
    const owner = uniq('three');
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await create(e, { owner })).status);
    expect(statuses).toEqual([201, 201, 201, 409, 409]);
    expect(await activeKeysOf(owner, e)).toHaveLength(3);
  });

  it('allows exactly 3 of 10 concurrent creates', async () => {
    const owner = uniq('three-race');
    const results = await Promise.all(Array.from({ length: 10 }, () => create(e, { owner }).then(outcome)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    expect(await activeKeysOf(owner, e)).toHaveLength(3);
  });

  it('counts only usable keys: a deactivated key frees a slot', async () => {
    const owner = uniq('three-freed');
    const keys = [];
    for (let i = 0; i < 3; i++) keys.push(await createKey({ owner }, { env: e }));
    expect((await create(e, { owner })).status).toBe(409);
    await admin(`/keys/${keys[0]!.id}/deactivate`, { method: 'POST' }, { env: e });
    expect((await create(e, { owner })).status).toBe(201);
  });
});

describe('without MAX_KEYS_PER_OWNER', () => {
  it('does not cap owners', async () => {
    const owner = uniq('uncapped');
    const e = testEnv({ MAX_KEYS_PER_OWNER: undefined });
    for (let i = 0; i < 5; i++) expect((await create(e, { owner })).status).toBe(201);
  });
});
