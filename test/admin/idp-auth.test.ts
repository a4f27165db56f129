// Admin sign-in through an identity provider: JWTs signed by keys in a JWKS served by a real
// local HTTP server (test/harness/global-setup.ts), in Authorization or Cf-Access-Jwt-Assertion.

import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { clearAuthFailures } from '../../src/admin/auth-throttle';
import { call, createKey, testEnv } from '../harness/gateway';
import { errorOf } from '../limits/stores';

const ISSUER = 'https://idp.test';
const AUDIENCE = 'keygate-admin';
const env = testEnv({ ADMIN_JWT_ISSUER: ISSUER, ADMIN_JWT_AUDIENCE: AUDIENCE, ADMIN_JWKS_URL: inject('idpJwksUrl') });

type KeyName = 'rs' | 'es' | 'rogue';

async function idpToken(claims: JWTPayload & Record<string, unknown>, opts: { key?: KeyName; kid?: string; iss?: string; aud?: string; expS?: number } = {}): Promise<string> {
  const jwk = inject('idpKeys')[opts.key ?? 'rs'] as { alg: string; kid: string };
  const key = await importJWK(jwk, jwk.alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'alice@example.com', ...claims })
    .setProtectedHeader({ alg: jwk.alg, kid: opts.kid ?? jwk.kid })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt(now - 10)
    .setExpirationTime(now + (opts.expS ?? 300))
    .sign(key);
}

function adminCall(path: string, token: string, init: RequestInit & { json?: unknown } = {}, header: 'authorization' | 'cf-access-jwt-assertion' = 'authorization'): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set(header, header === 'authorization' ? `Bearer ${token}` : token);
  if (init.json !== undefined) headers.set('content-type', 'application/json');
  return call(`/admin${path}`, { ...init, headers, body: init.json === undefined ? init.body : JSON.stringify(init.json) }, { env });
}

async function jwksHits(): Promise<number> {
  const url = new URL(inject('idpJwksUrl'));
  return ((await (await fetch(`${url.origin}/__hits`)).json()) as { hits: number }).hits;
}

describe('admin sign-in through an identity provider', () => {
  beforeEach(() => clearAuthFailures());

  it('an admin may change keys, and the audit log names the token subject', async () => {
    const token = await idpToken({ roles: ['admin'] });
    const res = await adminCall('/keys', token, { method: 'POST', json: { name: 'by idp admin' } });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const audit = (await (await adminCall(`/audit?key_id=${id}`, token)).json()) as { entries: { actor: string; action: string }[] };
    expect(audit.entries.find((e) => e.action === 'create')?.actor).toBe('alice@example.com');
  });

  it('Cloudflare Access: the token in Cf-Access-Jwt-Assertion is accepted (ES256 here)', async () => {
    const token = await idpToken({ roles: 'admin', sub: 'bob@example.com' }, { key: 'es' });
    expect((await adminCall('/keys', token, {}, 'cf-access-jwt-assertion')).status).toBe(200);
  });

  it('a viewer may read but gets 403 on every write', async () => {
    const token = await idpToken({ roles: ['viewer'] });
    const key = await createKey({ name: 'viewed' }, { env });
    expect((await adminCall('/keys', token)).status).toBe(200);
    expect((await adminCall(`/keys/${key.id}`, token)).status).toBe(200);
    expect((await adminCall('/keys/find', token, { method: 'POST', json: { key: key.key } })).status).toBe(200);
    for (const [path, method, json] of [
      ['/keys', 'POST', { name: 'nope' }],
      [`/keys/${key.id}`, 'PATCH', { name: 'nope' }],
      [`/keys/${key.id}/revoke`, 'POST', { reason: 'nope' }],
      [`/keys/${key.id}`, 'DELETE', undefined],
    ] as const) {
      const res = await adminCall(path, token, { method, json });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await errorOf(res)).code).toBe('forbidden');
    }
    expect(((await (await adminCall(`/keys/${key.id}`, token)).json()) as { name: string }).name).toBe('viewed');
  });

  it('a token with neither role is refused with 403; the roles claim name is configurable', async () => {
    const res = await adminCall('/keys', await idpToken({ roles: ['developer'] }));
    expect(res.status).toBe(403);
    const custom = testEnv({ ADMIN_JWT_ISSUER: ISSUER, ADMIN_JWT_AUDIENCE: AUDIENCE, ADMIN_JWKS_URL: inject('idpJwksUrl'), ADMIN_JWT_ROLES_CLAIM: 'https://keygate/roles' });
    const token = await idpToken({ 'https://keygate/roles': ['admin'] });
    expect((await call('/admin/keys', { headers: { authorization: `Bearer ${token}` } }, { env: custom })).status).toBe(200);
  });

  it('refuses a wrong issuer, a wrong audience, an expired token and a key not in the JWKS', async () => {
    const bad = [
      await idpToken({ roles: ['admin'] }, { iss: 'https://evil.test' }),
      await idpToken({ roles: ['admin'] }, { aud: 'someone-else' }),
      await idpToken({ roles: ['admin'] }, { expS: -120 }),
      await idpToken({ roles: ['admin'] }, { key: 'rogue' }),
    ];
    for (const token of bad) {
      const res = await adminCall('/keys', token);
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe('unauthorized');
    }
  });

  it('refuses alg none and HS256 tokens (no symmetric algorithm is accepted)', async () => {
    const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'x', roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: now + 60 };
    const none = `${b64({ alg: 'none', kid: 'idp-rs-1' })}.${b64(claims)}.`;
    const rs = inject('idpKeys').rs as { n: string };
    // HS256 keyed with the RSA key's public modulus: the classic key-confusion attack.
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'idp-rs-1' }).sign(new TextEncoder().encode(rs.n));
    for (const token of [none, hs]) expect((await adminCall('/keys', token)).status).toBe(401);
  });

  it('caches the JWKS, and fetches it again for an unknown kid (at most once a second)', async () => {
    const token = await idpToken({ roles: ['admin'] });
    expect((await adminCall('/keys', token)).status).toBe(200);
    const before = await jwksHits();
    expect((await adminCall('/keys', token)).status).toBe(200);
    expect(await jwksHits()).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await adminCall('/keys', await idpToken({ roles: ['admin'] }, { kid: 'rotated-kid' }))).status).toBe(401);
    expect(await jwksHits()).toBe(before + 1);
    // Within the second: no further fetch.
    expect((await adminCall('/keys', await idpToken({ roles: ['admin'] }, { kid: 'another-kid' }))).status).toBe(401);
    expect(await jwksHits()).toBe(before + 1);
  });

  it('the admin token and admin keys keep working beside the identity provider', async () => {
    expect((await call('/admin/keys', { headers: { authorization: 'Bearer test-admin-token' } }, { env })).status).toBe(200);
  });
});
