// Signed identity to the upstream: routes with identity_jwt send x-gateway-identity, which the
// demo upstream (a real local server) verifies with jose against the gateway's JWKS, as the
// README's ten-line check does.

import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, decodeJwt } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { call, createKey, testEnv, upstreamOrigin, admin, type Echo } from '../harness/gateway';
import { errorOf } from '../limits/stores';
import { jwtAuth, signToken } from '../signing/sign';

interface IdentityEcho extends Echo {
  identity?: { verified: boolean; alg?: string; kid?: string; claims?: Record<string, unknown>; error?: string };
}

const routes = () => [
  { path: '/who', upstream: upstreamOrigin(), identity_jwt: true },
  { path: '/who-limited', upstream: upstreamOrigin(), identity_jwt: true, limits: { rpm: 1000 } },
  { path: '/plain', upstream: upstreamOrigin() },
];
const env = testEnv({ ROUTES: routes() });

async function echo(path: string, init: RequestInit, e = env): Promise<IdentityEcho> {
  const res = await call(path, init, { env: e });
  expect(res.status).toBe(200);
  return (await res.json()) as IdentityEcho;
}

describe('x-gateway-identity', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the upstream verifies the identity with jose and reads the key from it', async () => {
    const key = await createKey({ owner: 'acme', type: 'service', scopes: ['read', 'write'] }, { env });
    const seen = await echo('/who/hello', { headers: { authorization: `Bearer ${key.key}` } });
    expect(seen.identity?.verified).toBe(true);
    expect(seen.identity?.alg).toBe('EdDSA');
    expect(seen.identity?.kid).toBe('test-identity-1');
    const claims = seen.identity?.claims ?? {};
    expect(claims).toMatchObject({ sub: key.id, owner: 'acme', scopes: ['read', 'write'], key_type: 'service', aud: upstreamOrigin(), iss: 'https://gw.test' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(60);
  });

  it('a client cannot forge the header: its own x-gateway-identity never reaches the upstream', async () => {
    const key = await createKey({}, { env });
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJrZXlfQURNSU4ifQ.';
    const plain = await echo('/plain/x', { headers: { authorization: `Bearer ${key.key}`, 'x-gateway-identity': forged } });
    expect(plain.headers['x-gateway-identity']).toBeUndefined();
    expect(plain.identity).toBeUndefined();
    const who = await echo('/who/x', { headers: { authorization: `Bearer ${key.key}`, 'x-gateway-identity': forged } });
    expect(who.headers['x-gateway-identity']).not.toBe(forged);
    expect(who.identity?.verified).toBe(true);
  });

  it('is reused per key and route, and re-minted when the key changes', async () => {
    const key = await createKey({ owner: 'before' }, { env });
    const a = await echo('/who/1', { headers: { authorization: `Bearer ${key.key}` } });
    const b = await echo('/who/2', { headers: { authorization: `Bearer ${key.key}` } });
    expect(b.headers['x-gateway-identity']).toBe(a.headers['x-gateway-identity']);
    const other = await echo('/who-limited/3', { headers: { authorization: `Bearer ${key.key}` } });
    expect(other.identity?.verified).toBe(true);
    expect((await admin(`/keys/${key.id}`, { method: 'PATCH', json: { owner: 'after' } }, { env })).status).toBe(200);
    const c = await echo('/who/4', { headers: { authorization: `Bearer ${key.key}` } });
    expect(c.identity?.claims?.owner).toBe('after');
  });

  it('a token in steady use is re-minted after a response, before it would have to be minted on the way in', async () => {
    const key = await createKey({}, { env });
    const headers = { authorization: `Bearer ${key.key}` };
    const first = (await echo('/who/a', { headers })).headers['x-gateway-identity'];
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);
    // Past 30 s: this request still carries the cached token and mints the next one after its response.
    expect((await echo('/who/b', { headers })).headers['x-gateway-identity']).toBe(first);
    const next = (await echo('/who/c', { headers })).headers['x-gateway-identity'];
    expect(next).not.toBe(first);
    expect(decodeJwt(next as string).iat! - decodeJwt(first as string).iat!).toBeGreaterThanOrEqual(30);
  });

  it('signed requests carry the identity too', async () => {
    const created = await createKey({ signing_secret: true, owner: 'signer' }, { env });
    const seen = await echo('/who-limited/x', { headers: jwtAuth(await signToken(created.id, created.signing_secret as string)) });
    expect(seen.identity?.verified).toBe(true);
    expect(seen.identity?.claims?.sub).toBe(created.id);
  });

  it('without a signing key the route refuses (500 config_invalid) instead of forwarding without identity', async () => {
    const e = testEnv({ ROUTES: routes(), IDENTITY_SIGNING_KEY: undefined });
    const key = await createKey({}, { env: e });
    const res = await call('/who/x', { headers: { authorization: `Bearer ${key.key}` } }, { env: e });
    expect(res.status).toBe(500);
    const error = await errorOf(res);
    expect(error.code).toBe('config_invalid');
    expect(error.message).toContain('IDENTITY_SIGNING_KEY');
    // Routes without identity_jwt are unaffected.
    expect((await call('/plain/x', { headers: { authorization: `Bearer ${key.key}` } }, { env: e })).status).toBe(200);
  });
});

describe('GET /_keygate/jwks.json', () => {
  it('serves the current and the previous public key without a credential, and no private part', async () => {
    const res = await call('/_keygate/jwks.json', {}, { env });
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.map((k) => k.kid)).toEqual(['test-identity-1', 'test-identity-0']);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(k.d).toBeUndefined();
    }
  });

  it('an ES256 (P-256) signing key works, verified against the JWKS the gateway serves', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'es-test' };
    const e = testEnv({ ROUTES: routes(), IDENTITY_SIGNING_KEY: JSON.stringify(jwk), IDENTITY_SIGNING_KEY_PREVIOUS: undefined, IDENTITY_ISSUER: 'https://issuer.example' });
    const key = await createKey({}, { env: e });
    const seen = (await (await call('/plain/x', { headers: { authorization: `Bearer ${key.key}` } }, { env: e })).json()) as IdentityEcho;
    expect(seen.headers['x-gateway-identity']).toBeUndefined();
    const who = (await (await call('/who/x', { headers: { authorization: `Bearer ${key.key}` } }, { env: e })).json()) as IdentityEcho;
    const token = who.headers['x-gateway-identity'] as string;
    const jwks = (await (await call('/_keygate/jwks.json', {}, { env: e })).json()) as { keys: [] };
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: 'https://issuer.example', audience: upstreamOrigin(), algorithms: ['ES256'] });
    expect(protectedHeader.kid).toBe('es-test');
    expect(payload.sub).toBe(key.id);
    expect(decodeJwt(token).exp! - decodeJwt(token).iat!).toBe(60);
  });
});
