// The shared admin-auth test: every operation in the admin OpenAPI document refuses missing,
// wrong, non-admin, revoked, deactivated and expired credentials, and accepts the admin token
// and an active admin-scoped key. The document itself is public (it holds no secrets).
// Requests come from a fresh client IP each, so the per-IP throttle of failed
// authentications (tested on its own below) does not interfere.

import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearAuthFailures } from '../../src/admin/auth-throttle';
import type { Env } from '../../src/env';
import { admin, ADMIN_TOKEN, bearer, call, createKey, testEnv, type CreatedKey, type ErrorJson } from '../harness/gateway';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Op {
  method: string;
  /** OpenAPI path, relative to /admin, e.g. /keys/{id}. */
  path: string;
}
const label = (op: Op) => `${op.method.toUpperCase()} ${op.path}`;

/** The request that succeeds with a valid admin credential, used for refusals too (so a refusal is never a validation error). */
const SUCCESS: Record<string, { body?: (target: CreatedKey) => unknown; status: number }> = {
  'POST /keys': { body: () => ({ name: 'created by admin-auth test' }), status: 201 },
  'GET /keys': { status: 200 },
  'POST /keys/find': { body: (t) => ({ key: t.key }), status: 200 },
  'GET /keys/{id}': { status: 200 },
  'PATCH /keys/{id}': { body: () => ({ name: 'renamed by admin-auth test' }), status: 200 },
  'DELETE /keys/{id}': { status: 200 },
  'POST /keys/{id}/revoke': { body: () => ({ reason: 'admin-auth test' }), status: 200 },
  'POST /keys/{id}/activate': { status: 200 },
  'POST /keys/{id}/deactivate': { status: 200 },
  'POST /keys/{id}/extend': { body: () => ({ ttl_seconds: 3600 }), status: 200 },
  'GET /keys/{id}/usage': { status: 200 },
  'POST /keys/{id}/rotate': { body: () => ({ grace_seconds: 0 }), status: 200 },
  'POST /keys/{id}/signing-secret': { status: 200 },
  'POST /verify': { body: (t) => ({ key: t.key }), status: 200 },
  'GET /audit': { status: 200 },
  'POST /keys/{id}/credits': { body: () => ({ add: 5 }), status: 200 },
  'PUT /owners/{owner}': { body: () => ({ limits: { rpm: 100 } }), status: 200 },
  'GET /owners': { status: 200 },
  'GET /owners/{owner}': { status: 200 },
  'DELETE /owners/{owner}': { status: 200 },
  'GET /owners/{owner}/usage': { status: 200 },
  'GET /logs': { status: 200 },
  'GET /keys/{id}/logs': { status: 200 },
  'GET /keys/{id}/analytics': { status: 200 },
  'GET /analytics': { status: 200 },
  // .invalid never resolves: deliveries fail at once, without reaching any network.
  'POST /webhooks': { body: () => ({ url: 'https://hooks.invalid/admin-auth', events: ['budget.exhausted'] }), status: 201 },
  'GET /webhooks': { status: 200 },
  'GET /webhooks/{id}': { status: 200 },
  'PATCH /webhooks/{id}': { body: () => ({ description: 'renamed by admin-auth test' }), status: 200 },
  'DELETE /webhooks/{id}': { status: 200 },
  'POST /webhooks/{id}/test': { status: 200 },
  'GET /webhooks/{id}/deliveries': { status: 200 },
  'POST /webhooks/{id}/deliveries/{delivery_id}/replay': { status: 202 },
};

/** The owner a route's {owner} names for a target key (made to exist before a success run). */
const ownerFor = (target: CreatedKey) => `admin-auth owner/${target.id}`;

/** Whatever an operation's success needs to exist first. */
async function prepare(op: Op, target: CreatedKey): Promise<void> {
  if (op.path === '/keys/{id}/credits') expect((await admin(`/keys/${target.id}`, { method: 'PATCH', json: { credits: { remaining: 10 } } })).status).toBe(200);
  if (op.path.includes('{owner}') && op.method !== 'put') {
    expect((await admin(`/owners/${encodeURIComponent(ownerFor(target))}`, { method: 'PUT', json: {} })).status).toBe(200);
  }
}

/** A webhook with one failed (replayable) delivery, for the /webhooks/{id} routes. */
async function webhookFixture(): Promise<{ id: string; delivery_id: string }> {
  const created = await admin('/webhooks', { method: 'POST', json: { url: 'https://hooks.invalid/fixture', events: ['budget.exhausted'] } });
  const { id } = (await created.json()) as { id: string };
  // The fixture's own (audited) create is not the refused request's doing.
  const head = await auditHead();
  if (head !== undefined) fixtureAudit.add(head);
  const ping = await admin(`/webhooks/${id}/test`, { method: 'POST' });
  const { id: delivery_id } = (await ping.json()) as { id: string };
  return { id, delivery_id };
}

/** Admin routes served without credentials: they hold no secrets. */
const PUBLIC = ['GET /openapi.json', 'GET /ui'];

let ipCounter = 0;
/** A client IP no earlier request used (TEST-NET-2 / documentation IPv6). */
function freshIp(): string {
  ipCounter++;
  return `2001:db8:${(ipCounter >> 16).toString(16)}:${(ipCounter & 0xffff).toString(16)}::1`;
}

/** Operations that change a key, with the audit action they record for it. */
const AUDITED: Record<string, string> = {
  'PATCH /keys/{id}': 'update',
  'DELETE /keys/{id}': 'delete',
  'POST /keys/{id}/revoke': 'revoke',
  'POST /keys/{id}/activate': 'activate',
  'POST /keys/{id}/deactivate': 'deactivate',
  'POST /keys/{id}/extend': 'extend',
  'POST /keys/{id}/rotate': 'rotate',
  'POST /keys/{id}/signing-secret': 'signing_secret',
};

function concretePath(op: Op, target: CreatedKey, hook?: { id: string; delivery_id: string }): string {
  return op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    if (name === 'owner') return encodeURIComponent(ownerFor(target));
    if (hook && name === 'id') return hook.id;
    if (hook && name === 'delivery_id') return hook.delivery_id;
    if (name !== 'id') throw new Error(`${label(op)}: no substitution for path parameter {${name}}; teach the admin-auth test about it`);
    return target.id;
  });
}

/** Sends `op` exactly as an admin would, with `authorization` as given (null: no header at all). */
async function send(op: Op, target: CreatedKey, authorization: string | null, e?: Env): Promise<Response> {
  const headers = new Headers({ 'cf-connecting-ip': freshIp() });
  if (authorization !== null) headers.set('authorization', authorization);
  const body = SUCCESS[label(op)]?.body?.(target);
  const init: RequestInit = { method: op.method.toUpperCase(), headers };
  if (op.method !== 'get' && op.method !== 'head') {
    headers.set('content-type', 'application/json');
    init.body = JSON.stringify(body ?? {});
  }
  const hook = op.path.startsWith('/webhooks/{id}') ? await webhookFixture() : undefined;
  return call(`/admin${concretePath(op, target, hook)}`, init, { env: e });
}

async function outcome(res: Response) {
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as Partial<ErrorJson>).error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.status, code };
}

async function auditFor(keyId: string) {
  const res = await admin(`/audit?key_id=${keyId}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: { actor: string; action: string; key_id: string }[] }).entries;
}

/** Audit entries written by fixtures (webhook creates), which auditHead looks past. */
const fixtureAudit = new Set<string>();

async function auditHead(): Promise<string | undefined> {
  const res = await admin('/audit?limit=100');
  return ((await res.json()) as { entries: { id: string }[] }).entries.find((e) => !fixtureAudit.has(e.id))?.id;
}

let ops: Op[] = [];
let target: CreatedKey;

beforeAll(async () => {
  const res = await admin('/openapi.json');
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
  ops = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) if (item[method] !== undefined && !PUBLIC.includes(`${method.toUpperCase()} ${path}`)) ops.push({ method, path });
  }
  target = await createKey({ name: 'admin-auth target', owner: 'admin-auth-target' });
});

beforeEach(() => {
  clearAuthFailures();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('every admin route requires an admin credential', () => {
  it('serves the OpenAPI document without credentials, with a request id', async () => {
    const res = await call('/admin/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const doc = (await res.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/keys');
  });

  it('enumerates at least 14 protected route/method pairs from the OpenAPI document', () => {
    expect(ops.length).toBeGreaterThanOrEqual(14);
    expect(new Set(ops.map(label)).size).toBe(ops.length);
  });

  it('knows a successful request for every enumerated route (a new route must be added here)', () => {
    expect(ops.map(label).filter((l) => SUCCESS[l] === undefined)).toEqual([]);
  });

  /** Runs every route with `authorization` and expects the same refusal from each. */
  async function expectEveryRouteRefuses(authorization: string | null, expected: { status: number; code: string }, e?: Env) {
    const before = await auditHead();
    const seen: Record<string, { status: number; code: string | undefined }> = {};
    const wanted: Record<string, { status: number; code: string }> = {};
    for (const op of ops) {
      seen[label(op)] = await outcome(await send(op, target, authorization, e));
      wanted[label(op)] = expected;
    }
    expect(seen).toEqual(wanted);
    // A refused request changes nothing: no audit entry, the target key untouched.
    expect(await auditHead()).toBe(before);
    const current = (await (await admin(`/keys/${target.id}`)).json()) as { status: string; name: string; updated_at: string };
    expect(current).toMatchObject({ status: 'active', name: 'admin-auth target', updated_at: target.updated_at });
  }

  it('refuses a request without credentials with 401 unauthorized and a WWW-Authenticate challenge', async () => {
    await expectEveryRouteRefuses(null, { status: 401, code: 'unauthorized' });
    for (const op of ops) {
      const res = await send(op, target, null);
      expect(res.headers.get('www-authenticate'), label(op)).toMatch(/^Bearer realm="keygate-admin"/);
    }
  });

  it('refuses an empty bearer or a non-bearer scheme carrying the right token', async () => {
    await expectEveryRouteRefuses('Bearer ', { status: 401, code: 'unauthorized' });
    await expectEveryRouteRefuses(`Basic ${ADMIN_TOKEN}`, { status: 401, code: 'unauthorized' });
    await expectEveryRouteRefuses(ADMIN_TOKEN, { status: 401, code: 'unauthorized' });
  });

  it('refuses a wrong admin token with 401', async () => {
    await expectEveryRouteRefuses('Bearer not-the-admin-token', { status: 401, code: 'unauthorized' });
  });

  it('refuses a valid key without the admin scope with 403 forbidden', async () => {
    const user = await createKey({ scopes: ['read', 'write'], name: 'non-admin' });
    // The key itself is fine: it works through the gateway.
    expect((await call('/demo/x', { headers: bearer(user.key) })).status).toBe(200);
    await expectEveryRouteRefuses(`Bearer ${user.key}`, { status: 403, code: 'forbidden' });
  });

  it('refuses a revoked admin-scoped key with 401 key_revoked', async () => {
    const revoked = await createKey({ scopes: ['admin'], name: 'revoked admin' });
    expect((await admin('/keys?limit=1', {}, { token: revoked.key })).status).toBe(200);
    expect((await admin(`/keys/${revoked.id}/revoke`, { method: 'POST', json: { reason: 'test' } })).status).toBe(200);
    await expectEveryRouteRefuses(`Bearer ${revoked.key}`, { status: 401, code: 'key_revoked' });
  });

  it('refuses a deactivated admin-scoped key with 403 key_inactive', async () => {
    const inactive = await createKey({ scopes: ['admin'], name: 'deactivated admin' });
    expect((await admin('/keys?limit=1', {}, { token: inactive.key })).status).toBe(200);
    expect((await admin(`/keys/${inactive.id}/deactivate`, { method: 'POST' })).status).toBe(200);
    await expectEveryRouteRefuses(`Bearer ${inactive.key}`, { status: 403, code: 'key_inactive' });
  });

  it('refuses an expired admin-scoped key with 401 key_expired', async () => {
    const expiring = await createKey({ scopes: ['admin'], name: 'expiring admin', ttl_seconds: 60 });
    expect((await admin('/keys?limit=1', {}, { token: expiring.key })).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    await expectEveryRouteRefuses(`Bearer ${expiring.key}`, { status: 401, code: 'key_expired' });
  });

  it('refuses an admin key restricted to an IP range when called from outside it', async () => {
    const pinned = await createKey({ scopes: ['admin'], allowed_ips: ['203.0.113.0/24'] });
    const inside = await call('/admin/keys?limit=1', { headers: bearer(pinned.key, { 'cf-connecting-ip': '203.0.113.9' }) });
    expect(inside.status).toBe(200);
    const outside = await call('/admin/keys?limit=1', { headers: bearer(pinned.key, { 'cf-connecting-ip': '198.51.100.1' }) });
    expect(await outcome(outside)).toEqual({ status: 403, code: 'ip_not_allowed' });
  });

  it('accepts the admin token on every route (the expected success, not just "not 401/403")', async () => {
    const seen: Record<string, number> = {};
    const wanted: Record<string, number> = {};
    for (const op of ops) {
      const fresh = await createKey({ name: `token target for ${label(op)}` });
      await prepare(op, fresh);
      seen[label(op)] = (await send(op, fresh, `Bearer ${ADMIN_TOKEN}`)).status;
      wanted[label(op)] = SUCCESS[label(op)]?.status ?? -1;
    }
    expect(seen).toEqual(wanted);
  });

  it('accepts an active admin-scoped key on every route and audits its changes with the key id as actor', async () => {
    const adminKey = await createKey({ scopes: ['admin'], name: 'admin key' });
    const seen: Record<string, number> = {};
    const wanted: Record<string, number> = {};
    for (const op of ops) {
      const fresh = await createKey({ name: `key target for ${label(op)}` });
      // Activating an active key changes nothing (and is not audited): make it a real change.
      if (label(op) === 'POST /keys/{id}/activate') await admin(`/keys/${fresh.id}/deactivate`, { method: 'POST' });
      await prepare(op, fresh);
      const res = await send(op, fresh, `Bearer ${adminKey.key}`);
      seen[label(op)] = res.status;
      wanted[label(op)] = SUCCESS[label(op)]?.status ?? -1;
      const action = AUDITED[label(op)];
      if (action) {
        const [latest] = await auditFor(fresh.id);
        expect(latest, label(op)).toMatchObject({ action, actor: adminKey.id, key_id: fresh.id });
      }
      if (label(op) === 'POST /keys' && res.status === 201) {
        const created = (await res.clone().json()) as { id: string };
        expect((await auditFor(created.id))[0]).toMatchObject({ action: 'create', actor: adminKey.id });
      }
    }
    expect(seen).toEqual(wanted);
  });

  it('audits changes made with the admin token as actor admin_token', async () => {
    const k = await createKey({ name: 'token-audited' });
    expect((await admin(`/keys/${k.id}`, { method: 'PATCH', json: { name: 'renamed' } })).status).toBe(200);
    const entries = await auditFor(k.id);
    expect(entries.map((e) => [e.action, e.actor])).toEqual([
      ['update', 'admin_token'],
      ['create', 'admin_token'],
    ]);
  });

  it('requires credentials even for admin paths that do not exist (no route discovery)', async () => {
    const res = await call('/admin/no-such-route');
    expect(await outcome(res)).toEqual({ status: 401, code: 'unauthorized' });
  });
});

describe('the admin token compare', () => {
  const tryToken = async (token: string, e?: Env) => (await admin('/keys?limit=1', { headers: { 'cf-connecting-ip': freshIp() } }, { token, env: e })).status;

  it('accepts exactly the configured token, with the scheme in any case', async () => {
    expect(await tryToken(ADMIN_TOKEN)).toBe(200);
    const lower = await call('/admin/keys?limit=1', { headers: { authorization: `bearer ${ADMIN_TOKEN}` } });
    expect(lower.status).toBe(200);
  });

  it('is not fooled by a prefix, a longer string, a case change or a near miss', async () => {
    const variants = [
      ADMIN_TOKEN.slice(0, -1),
      ADMIN_TOKEN.slice(0, 4),
      `${ADMIN_TOKEN}x`,
      `${ADMIN_TOKEN}${ADMIN_TOKEN}`,
      ADMIN_TOKEN.toUpperCase(),
      `x${ADMIN_TOKEN.slice(1)}`,
      `${ADMIN_TOKEN.slice(0, -1)}N`,
    ];
    const statuses = await Promise.all(variants.map((v) => tryToken(v)));
    expect(statuses).toEqual(variants.map(() => 401));
  });

  it('refuses a token with a trailing word (only one credential per header)', async () => {
    const res = await call('/admin/keys?limit=1', { headers: { authorization: `Bearer ${ADMIN_TOKEN} extra` } });
    expect(await outcome(res)).toEqual({ status: 401, code: 'unauthorized' });
  });

  it('fails closed when no ADMIN_TOKEN is configured, while admin keys keep working', async () => {
    const adminKey = await createKey({ scopes: ['admin'] });
    for (const e of [testEnv({ ADMIN_TOKEN: undefined }), testEnv({ ADMIN_TOKEN: '' })]) {
      for (const token of [ADMIN_TOKEN, 'undefined', 'null', '""']) {
        const res = await admin('/keys?limit=1', {}, { token, env: e });
        expect(await outcome(res), token).toEqual({ status: 401, code: 'unauthorized' });
      }
      const noHeader = await call('/admin/keys?limit=1', {}, { env: e });
      expect(noHeader.status).toBe(401);
      expect(await tryToken(adminKey.key, e)).toBe(200);
    }
  });
});
