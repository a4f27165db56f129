// The signed-request token rule over client-controlled input (fast-check): no string is ever
// accepted without the right HS256 signature, nothing throws, and a correctly signed token is
// accepted exactly when its claims are within the rule (lifetime, skew, jti shape).

import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { SigningLookup } from '../../src/signing/secret-store';
import { CLOCK_SKEW_S, MAX_TOKEN_LIFETIME_S, verifySignedToken } from '../../src/signing/signed-request';

const KEY_ID = 'key_01KAR3Z8J2ABCDEFGHJKMNPQRS';
const SECRET = 'kgs_property-test-secret';
const hmac = crypto.subtle.importKey('raw', new TextEncoder().encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
const lookup = async (keyId: string): Promise<SigningLookup> => ({ ok: true, key: keyId === KEY_ID ? { digest: 'd'.repeat(64), hmac: await hmac } : null });
const CODES = ['invalid_signature', 'token_expired', 'token_lifetime_too_long'];

describe('signed-request tokens', () => {
  it('an arbitrary Authorization: JWT value is refused with a token code, never accepted, never thrown', async () => {
    const b64 = (s: string) => btoa(unescape(encodeURIComponent(s))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const tokenish = fc.oneof(
      fc.string(),
      fc.tuple(fc.string(), fc.string(), fc.string()).map(([a, b, c]) => `${b64(a)}.${b64(b)}.${b64(c)}`),
      fc.tuple(fc.json(), fc.json()).map(([h, p]) => `${b64(h)}.${b64(p)}.${b64('sig')}`),
      fc.json().map((p) => `${b64(JSON.stringify({ alg: 'none' }))}.${b64(p)}.`),
    );
    await fc.assert(
      fc.asyncProperty(tokenish, async (token) => {
        const result = await verifySignedToken(token, lookup, Date.now());
        expect(result.ok).toBe(false);
        if (!result.ok) expect(CODES).toContain(result.code);
      }),
      { numRuns: 300 },
    );
  });

  it('a correctly signed token is accepted exactly when iat, exp and jti are within the rule', async () => {
    const now = Date.now();
    const nowS = Math.floor(now / 1000);
    const claims = fc.record({
      iatOffset: fc.integer({ min: -1000, max: 1000 }),
      lifetime: fc.integer({ min: -10, max: 600 }),
      jti: fc.oneof(fc.uuid(), fc.string({ maxLength: 140 })),
    });
    await fc.assert(
      fc.asyncProperty(claims, async ({ iatOffset, lifetime, jti }) => {
        const iat = nowS + iatOffset;
        const exp = iat + lifetime;
        const token = await new SignJWT({ iss: KEY_ID, iat, exp, jti }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
        const result = await verifySignedToken(token, lookup, now);
        const jtiOk = /^[\x21-\x7e]{1,128}$/.test(jti);
        const fresh = exp > nowS - CLOCK_SKEW_S && iat <= nowS + CLOCK_SKEW_S;
        const shouldPass = jtiOk && fresh && lifetime > 0 && lifetime <= MAX_TOKEN_LIFETIME_S;
        expect(result.ok, JSON.stringify({ iatOffset, lifetime, jti, result })).toBe(shouldPass);
        if (result.ok) {
          expect(result.token).toEqual({ keyId: KEY_ID, digest: 'd'.repeat(64), jti, replayUntil: (exp + CLOCK_SKEW_S) * 1000 });
        } else if (jtiOk && fresh && lifetime > MAX_TOKEN_LIFETIME_S) {
          expect(result.code).toBe('token_lifetime_too_long');
        }
      }),
      { numRuns: 300 },
    );
  });
});
