// Signed requests (`Authorization: JWT`, HS256 with a key's signing secret), end to end on
// both limit stores: every bad token is refused with its code, the key's own state applies,
// and a token id is admitted once, even when 50 copies arrive at once.

import { describe, expect, it } from 'vitest';
import type { Echo } from '../harness/gateway';
import { awayFromMinuteEdge, bridgeStats, downGateway, errorOf, gateway, STORE_KINDS, type Gateway, type Vars } from '../limits/stores';
import { admin, upstreamOrigin } from '../harness/gateway';
import { asymmetricToken, jwtAuth, signToken, unsignedToken } from './sign';
import { signedRequestToken } from '../../cli/commands.mjs';

const vars = (): Vars => ({
  ROUTES: [
    { path: '/signed', upstream: upstreamOrigin(), limits: { rpm: 10_000 } },
    { path: '/signed-only', upstream: upstreamOrigin(), auth: ['signed'] },
    { path: '/keys-only', upstream: upstreamOrigin(), auth: ['key'] },
    { path: '/bare', upstream: upstreamOrigin(), instant_revocation: false },
  ],
});

async function pair(gw: Gateway, body: Record<string, unknown> = {}): Promise<{ id: string; key: string; secret: string }> {
  const created = await gw.createKey({ signing_secret: true, ...body });
  expect(typeof created.signing_secret).toBe('string');
  return { id: created.id, key: created.key, secret: created.signing_secret as string };
}

/** `db`, but `before` runs once ahead of the first batch of at least `size` statements (a race, made deterministic). */
function beforeBatch(db: D1Database, match: (statements: number) => boolean, before: () => Promise<void>): D1Database {
  let pending: (() => Promise<void>) | null = before;
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'batch') {
        return async (statements: D1PreparedStatement[]) => {
          const run = match(statements.length) ? pending : null;
          if (run) (pending = null), await run();
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(STORE_KINDS)('signed requests (%s store)', (kind) => {
  const gw = gateway(kind, vars());

  it('a signed request reaches the upstream as the key, without the token', async () => {
    const { id, secret } = await pair(gw, { owner: 'acme', scopes: ['read', 'write'] });
    const res = await gw.call('/signed/hello', { headers: jwtAuth(await signToken(id, secret)) });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo.headers['x-gateway-key-id']).toBe(id);
    expect(echo.headers['x-gateway-owner']).toBe('acme');
    expect(echo.headers.authorization).toBeUndefined();
  });

  it('the signing secret is shown once and never appears in the key record or the audit log', async () => {
    const { id, secret } = await pair(gw);
    const record = await (await gw.admin(`/keys/${id}`)).text();
    const audit = await (await gw.admin(`/audit?key_id=${id}`)).text();
    expect(record).not.toContain(secret);
    expect(audit).not.toContain(secret);
    expect(audit).toContain('signing_secret');
  });

  it('a token printed by `keygate sign` is accepted once', async () => {
    const { id, secret } = await pair(gw);
    const token = signedRequestToken(id, secret, 60);
    expect((await gw.call('/signed/x', { headers: jwtAuth(token) })).status).toBe(200);
    expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(token) }))).code).toBe('token_replayed');
  });

  it('a keygate key in x-api-key wins: an Authorization: JWT beside it is the upstream\'s and travels on', async () => {
    const { key } = await pair(gw);
    const upstreamJwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1cHN0cmVhbSJ9.c2ln';
    const res = await gw.call('/signed/x', { headers: { 'x-api-key': key, authorization: `JWT ${upstreamJwt}` } });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo.headers.authorization).toBe(`JWT ${upstreamJwt}`);
    expect(echo.headers['x-api-key']).toBeUndefined();
  });

  it('refuses a tampered token', async () => {
    const { id, secret } = await pair(gw);
    const token = await signToken(id, secret);
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const forged = btoa(JSON.stringify({ ...claims, jti: 'forged' })).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const res = await gw.call('/signed/x', { headers: jwtAuth(`${h}.${forged}.${s}`) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('invalid_signature');
  });

  it('refuses a token signed with another secret', async () => {
    const { id } = await pair(gw);
    const res = await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, 'kgs_not-the-secret')) });
    expect((await errorOf(res)).code).toBe('invalid_signature');
  });

  it('refuses alg none and asymmetric algorithms (HS/RS and HS/EdDSA confusion)', async () => {
    const { id } = await pair(gw);
    for (const token of [unsignedToken(id), await asymmetricToken(id, 'RS256'), await asymmetricToken(id, 'EdDSA')]) {
      const res = await gw.call('/signed/x', { headers: jwtAuth(token) });
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe('invalid_signature');
    }
  });

  it('refuses an expired token and one issued in the future', async () => {
    const { id, secret } = await pair(gw);
    const now = Math.floor(Date.now() / 1000);
    const expired = await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret, { iat: now - 200, exp: now - 100 })) });
    expect((await errorOf(expired)).code).toBe('token_expired');
    const future = await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret, { iat: now + 120, exp: now + 180 })) });
    expect((await errorOf(future)).code).toBe('token_expired');
  });

  it('refuses a token that lives longer than 300 seconds', async () => {
    const { id, secret } = await pair(gw);
    const now = Math.floor(Date.now() / 1000);
    const res = await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret, { iat: now, exp: now + 301 })) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('token_lifetime_too_long');
    const ok = await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret, { iat: now, exp: now + 300 })) });
    expect(ok.status).toBe(200);
  });

  it('refuses tokens without jti, or naming a key that has no secret', async () => {
    const { id, secret } = await pair(gw);
    const noJti = await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret, { jti: undefined })) });
    expect((await errorOf(noJti)).code).toBe('invalid_signature');
    const plain = await gw.createKey({});
    const res = await gw.call('/signed/x', { headers: jwtAuth(await signToken(plain.id, secret)) });
    expect((await errorOf(res)).code).toBe('invalid_signature');
  });

  it('a revoked key is refused even with a valid token', async () => {
    const { id, secret } = await pair(gw);
    expect((await gw.admin(`/keys/${id}/revoke`, { method: 'POST', json: { reason: 'test' } })).status).toBe(200);
    const res = await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) });
    expect((await errorOf(res)).code).toBe('key_revoked');
  });

  it('a deleted key\'s tokens are refused, and its secret goes with it', async () => {
    const { id, secret } = await pair(gw);
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) })).status).toBe(200);
    expect((await gw.admin(`/keys/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) }))).code).toBe('invalid_signature');
    expect((await gw.admin(`/keys/${id}/signing-secret`, { method: 'POST' })).status).toBe(404);
  });

  it('a replayed token is refused, on routes with and without limits', async () => {
    const { id, secret } = await pair(gw);
    for (const path of ['/signed/x', '/bare/x']) {
      const token = await signToken(id, secret);
      expect((await gw.call(path, { headers: jwtAuth(token) })).status).toBe(200);
      const again = await gw.call(path, { headers: jwtAuth(token) });
      expect(again.status).toBe(401);
      expect((await errorOf(again)).code).toBe('token_replayed');
    }
  });

  it('a replayed token is refused on a route that reads only the revocation marker, whose clear read the isolate remembers', async () => {
    // /signed-only has no limits and the default revocation_max_staleness_ms: a plain key's
    // repeat requests there skip the store, a signed request's never do.
    const { id, secret } = await pair(gw);
    const token = await signToken(id, secret);
    expect((await gw.call('/signed-only/x', { headers: jwtAuth(token) })).status).toBe(200);
    const again = await gw.call('/signed-only/x', { headers: jwtAuth(token) });
    expect(again.status).toBe(401);
    expect((await errorOf(again)).code).toBe('token_replayed');
  });

  it("a replayed token of a key whose owner has limits is refused and takes nothing from the key's or the owner's windows", async () => {
    const owner = `signed {owner}:${crypto.randomUUID().slice(0, 8)}`;
    expect((await gw.admin(`/owners/${encodeURIComponent(owner)}`, { method: 'PUT', json: { limits: { rpm: 100 } } })).status).toBe(200);
    const { id, secret } = await pair(gw, { owner, limits: { rpm: 100 } });
    const token = await signToken(id, secret);
    await awayFromMinuteEdge(); // the counts below are read from this minute's window
    expect((await gw.call('/signed/x', { headers: jwtAuth(token) })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(token) }))).code).toBe('token_replayed');
    type Usage = { windows: { name: string; used: number }[] };
    const used = (u: Usage) => u.windows.filter((w) => w.name === 'rpm').map((w) => w.used);
    expect(used((await (await gw.admin(`/keys/${id}/usage`)).json()) as Usage)).toEqual([1]);
    expect(used((await (await gw.admin(`/owners/${encodeURIComponent(owner)}/usage`)).json()) as Usage)).toEqual([1]);
  });

  it('of 50 concurrent copies of one token exactly one is admitted', async () => {
    const { id, secret } = await pair(gw);
    const token = await signToken(id, secret);
    const responses = await Promise.all(Array.from({ length: 50 }, () => gw.call('/signed/x', { headers: jwtAuth(token) })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    const codes = await Promise.all(responses.filter((r) => r.status !== 200).map(async (r) => (await errorOf(r)).code));
    expect(new Set(codes)).toEqual(new Set(['token_replayed']));
  });

  it('a route with auth = ["signed"] refuses the plain key; one with ["key"] refuses tokens', async () => {
    const { id, key, secret } = await pair(gw);
    const plain = await gw.call('/signed-only/x', { headers: { authorization: `Bearer ${key}` } });
    expect(plain.status).toBe(401);
    expect((await errorOf(plain)).code).toBe('invalid_signature');
    expect((await gw.call('/signed-only/x', { headers: jwtAuth(await signToken(id, secret)) })).status).toBe(200);
    const signed = await gw.call('/keys-only/x', { headers: jwtAuth(await signToken(id, secret)) });
    expect((await errorOf(signed)).code).toBe('missing_key');
    expect((await gw.call('/keys-only/x', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
  });

  it('rotating the signing secret retires the old one', async () => {
    const { id, secret } = await pair(gw);
    const res = await gw.admin(`/keys/${id}/signing-secret`, { method: 'POST' });
    expect(res.status).toBe(200);
    const { signing_secret: next } = (await res.json()) as { signing_secret: string };
    expect(next).not.toBe(secret);
    expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) }))).code).toBe('invalid_signature');
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, next)) })).status).toBe(200);
  });

  it('fails closed when the limit store is down, even on a route that fails open', async () => {
    const { id, secret } = await pair(gw);
    const down = downGateway(kind, vars());
    const res = await down.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) });
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('store_unavailable');
  });
});

describe('signed requests on Upstash', () => {
  it('checks the token id in the admission\'s one round trip', async () => {
    const tag = `signed-${crypto.randomUUID()}`;
    const gw = gateway('upstash', vars(), { tag });
    const { id, secret } = await pair(gw);
    const token = await signToken(id, secret);
    const before = await bridgeStats(tag);
    expect((await gw.call('/signed/x', { headers: jwtAuth(token) })).status).toBe(200);
    const after = await bridgeStats(tag);
    expect(after.httpRequests - before.httpRequests).toBe(1);
    expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(token) }))).code).toBe('token_replayed');
    expect((await bridgeStats(tag)).httpRequests - after.httpRequests).toBe(1);
  });
});

describe('signing secrets at rest', () => {
  const gw = gateway('durable_object', vars());

  it('a missing master key refuses to issue a secret and creates no key', async () => {
    const noMaster = gateway('durable_object', { ...vars(), SECRETS_MASTER_KEY: undefined });
    const res = await noMaster.admin('/keys', { method: 'POST', json: { name: 'no-master', signing_secret: true } });
    expect(res.status).toBe(500);
    expect((await errorOf(res)).code).toBe('config_invalid');
    const list = (await (await gw.admin('/keys?q=no-master')).json()) as { keys: unknown[] };
    expect(list.keys).toHaveLength(0);
  });

  it('rotating a key with a signing secret gives the successor its own, once; the old pair works through the grace period', async () => {
    const { id, secret } = await pair(gw);
    const idem = `rotate-signed-${crypto.randomUUID()}`;
    const rotate = () => gw.admin(`/keys/${id}/rotate`, { method: 'POST', json: { grace_seconds: 3600 }, headers: { 'idempotency-key': idem } });
    const res = await rotate();
    expect(res.status).toBe(200);
    const out = (await res.json()) as { id: string; signing_secret?: string; replayed: boolean };
    expect(out.signing_secret).toMatch(/^kgs_/);
    expect(out.signing_secret).not.toBe(secret);
    const next = out.signing_secret as string;
    // The successor signs with its new secret, not with the old one; the old pair keeps working.
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(out.id, next)) })).status).toBe(200);
    expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(await signToken(out.id, secret)) }))).code).toBe('invalid_signature');
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) })).status).toBe(200);
    // A retry with the same Idempotency-Key answers the same secret; nothing is issued twice.
    const again = (await (await rotate()).json()) as { id: string; signing_secret?: string; replayed: boolean };
    expect(again).toMatchObject({ id: out.id, signing_secret: next, replayed: true });
    const audit = await (await gw.admin(`/audit?key_id=${out.id}`)).text();
    expect(audit).toContain('signing_secret');
    expect(audit).not.toContain(next);
  });

  it('a retried rotation does not hand back a successor secret that was re-issued since (it no longer works)', async () => {
    const { id } = await pair(gw);
    const idem = `rotate-reissued-${crypto.randomUUID()}`;
    const rotate = () => gw.admin(`/keys/${id}/rotate`, { method: 'POST', json: { grace_seconds: 3600 }, headers: { 'idempotency-key': idem } });
    const out = (await (await rotate()).json()) as { id: string; key: string; signing_secret?: string };
    expect(out.signing_secret).toMatch(/^kgs_/);
    const reissued = await gw.admin(`/keys/${out.id}/signing-secret`, { method: 'POST' });
    expect(reissued.status).toBe(200);
    const { signing_secret: current } = (await reissued.json()) as { signing_secret: string };
    expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(await signToken(out.id, out.signing_secret as string)) }))).code).toBe('invalid_signature');
    // The retry still answers the key (it works), but not the dead secret.
    const again = (await (await rotate()).json()) as { id: string; key: string; signing_secret?: string; replayed: boolean };
    expect(again).toMatchObject({ id: out.id, key: out.key, replayed: true });
    expect(again).not.toHaveProperty('signing_secret');
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(out.id, current)) })).status).toBe(200);
  });

  it('the old pair stops with the old key, and deleting the successor removes its secret', async () => {
    const { id, secret } = await pair(gw);
    const out = (await (await gw.admin(`/keys/${id}/rotate`, { method: 'POST', json: { grace_seconds: 0 } })).json()) as { id: string; signing_secret: string };
    expect((await errorOf(await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) }))).code).toBe('key_expired');
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(out.id, out.signing_secret)) })).status).toBe(200);
    const rows = () => gw.env.DB.prepare('SELECT COUNT(*) AS n FROM signing_secrets WHERE key_id = ?').bind(out.id).first<{ n: number }>('n');
    expect(await rows()).toBe(1);
    expect((await gw.admin(`/keys/${out.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await rows()).toBe(0);
  });

  it('a secret issued to the key while it is being rotated is carried to the successor (no successor left without one)', async () => {
    const created = await gw.createKey({ name: 'racing' });
    // The old key gets its first secret between the rotation's read and its D1 batch.
    let issued: string | undefined;
    const issue = async () => {
      const res = await gw.admin(`/keys/${created.id}/signing-secret`, { method: 'POST' });
      issued = ((await res.json()) as { signing_secret: string }).signing_secret;
    };
    const racing = { ...gw.env, DB: beforeBatch(gw.env.DB, (n) => n >= 6, issue) };
    const res = await admin(`/keys/${created.id}/rotate`, { method: 'POST', json: { grace_seconds: 3600 } }, { env: racing });
    expect(res.status).toBe(200);
    const out = (await res.json()) as { id: string; signing_secret?: string };
    expect(issued).toMatch(/^kgs_/);
    expect(out.signing_secret).toMatch(/^kgs_/);
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(out.id, out.signing_secret as string)) })).status).toBe(200);
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(created.id, issued as string)) })).status).toBe(200);
  });

  it('concurrent retries of one rotation of a signed key all answer the one successor and its one working secret', async () => {
    const { id } = await pair(gw);
    const idem = `rotate-signed-concurrent-${crypto.randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 5 }, () => gw.admin(`/keys/${id}/rotate`, { method: 'POST', json: {}, headers: { 'idempotency-key': idem } })));
    const outs = await Promise.all(responses.map(async (r) => (expect(r.status).toBe(200), (await r.json()) as { id: string; signing_secret?: string; replayed: boolean })));
    expect(new Set(outs.map((o) => o.id)).size).toBe(1);
    expect(new Set(outs.map((o) => o.signing_secret)).size).toBe(1);
    expect(outs.filter((o) => !o.replayed)).toHaveLength(1);
    const out = outs[0] as { id: string; signing_secret: string };
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(out.id, out.signing_secret)) })).status).toBe(200);
    // The plaintext is in no D1 table (the idempotency row holds it sealed with the Idempotency-Key).
    for (const table of ['signing_secrets', 'audit_log', 'idempotency', 'outbox', 'webhook_messages']) {
      expect(JSON.stringify((await gw.env.DB.prepare(`SELECT * FROM "${table}"`).all()).results)).not.toContain(out.signing_secret);
    }
  });

  it('a key whose secret is sealed under the previous master rotates; the successor\'s secret is sealed under the current one', async () => {
    const { id, secret } = await pair(gw);
    const next = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const rotated = gateway('durable_object', { ...vars(), SECRETS_MASTER_KEY: next, SECRETS_MASTER_KEY_PREVIOUS: gw.env.SECRETS_MASTER_KEY as string });
    const res = await rotated.admin(`/keys/${id}/rotate`, { method: 'POST', json: { grace_seconds: 3600 } });
    expect(res.status).toBe(200);
    const out = (await res.json()) as { id: string; signing_secret: string };
    expect((await rotated.call('/signed/x', { headers: jwtAuth(await signToken(out.id, out.signing_secret)) })).status).toBe(200);
    expect((await rotated.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) })).status).toBe(200);
    // Only the new master is needed for the successor.
    const onlyNext = gateway('durable_object', { ...vars(), SECRETS_MASTER_KEY: next });
    expect((await onlyNext.call('/signed/x', { headers: jwtAuth(await signToken(out.id, out.signing_secret)) })).status).toBe(200);
  });

  it('a key without a signing secret rotates to one without', async () => {
    const created = await gw.createKey({ name: 'plain' });
    const idem = `rotate-plain-${crypto.randomUUID()}`;
    const rotate = () => gw.admin(`/keys/${created.id}/rotate`, { method: 'POST', json: {}, headers: { 'idempotency-key': idem } });
    const out = (await (await rotate()).json()) as Record<string, unknown>;
    expect(out.id).toMatch(/^key_/);
    expect(out).not.toHaveProperty('signing_secret');
    const again = (await (await rotate()).json()) as Record<string, unknown>;
    expect(again).toMatchObject({ id: out.id, replayed: true });
    expect(again).not.toHaveProperty('signing_secret');
    expect(await (await gw.admin(`/audit?key_id=${out.id as string}`)).text()).not.toContain('signing_secret');
  });

  it('without a master key a key with a signing secret is not rotated (its successor could not sign)', async () => {
    const { id, secret } = await pair(gw);
    const noMaster = gateway('durable_object', { ...vars(), SECRETS_MASTER_KEY: undefined });
    const res = await noMaster.admin(`/keys/${id}/rotate`, { method: 'POST', json: { grace_seconds: 0 } });
    expect(res.status).toBe(500);
    expect((await errorOf(res)).code).toBe('config_invalid');
    const record = (await (await gw.admin(`/keys/${id}`)).json()) as { rotated_to: string | null; status: string };
    expect(record).toMatchObject({ rotated_to: null, status: 'active' });
    expect((await gw.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) })).status).toBe(200);
  });

  it('secrets sealed under the previous master still verify after the master rotates', async () => {
    const { id, secret } = await pair(gw);
    const next = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const rotated = gateway('durable_object', { ...vars(), SECRETS_MASTER_KEY: next, SECRETS_MASTER_KEY_PREVIOUS: gw.env.SECRETS_MASTER_KEY as string });
    expect((await rotated.call('/signed/x', { headers: jwtAuth(await signToken(id, secret)) })).status).toBe(200);
    // Without the previous master the old secret cannot be opened: refused, never admitted.
    const { id: id2, secret: secret2 } = await pair(gw);
    const lost = gateway('durable_object', { ...vars(), SECRETS_MASTER_KEY: next });
    expect((await errorOf(await lost.call('/signed/x', { headers: jwtAuth(await signToken(id2, secret2)) }))).code).toBe('invalid_signature');
  });
});
