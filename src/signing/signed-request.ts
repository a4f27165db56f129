// Signed requests (`Authorization: JWT <token>`), the addons.mozilla.org model: a client
// holding a key/secret pair signs a short-lived HS256 JWT with claims iss (the key id), iat,
// exp and jti, instead of sending its key. This module checks the token; the caller then
// checks the key record like any presented key, and the limit store refuses the jti a second
// time in the same atomic call as the admission (src/limits/store.ts, AdmitInput.replay).
// Plain inputs, tagged results.

import { decodeJwt, errors, jwtVerify } from 'jose';
import type { SigningLookup } from './secret-store';

/** Seconds a token may live, from iat to exp. */
export const MAX_TOKEN_LIFETIME_S = 300;
/** Seconds of clock difference tolerated between the client and keygate, on iat and exp. */
export const CLOCK_SKEW_S = 30;

export type SignedFailure = 'invalid_signature' | 'token_expired' | 'token_lifetime_too_long' | 'store_unavailable';

export interface SignedToken {
  keyId: string;
  /** Key digest: the key record is found as for a presented key. */
  digest: string;
  jti: string;
  /** Until when (ms) the jti must be remembered: exp plus the skew. */
  replayUntil: number;
}

export type SignedResult = { ok: true; token: SignedToken } | { ok: false; code: SignedFailure; detail?: string };

const KEY_ID = /^key_[0-9A-Z]{26}$/;
// jti: printable ASCII, bounded, so it can name a store entry as it is.
const JTI = /^[\x21-\x7e]{1,128}$/;
// A compact JWS, bounded: three base64url parts.
const COMPACT = /^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{0,512}$/;

const fail = (code: SignedFailure, detail?: string): SignedResult => ({ ok: false, code, detail });

/**
 * Verifies a token. `lookup` finds the signing key of the key id the token names (its `iss`);
 * every failure to find or open one reads as a bad signature, so key ids cannot be probed.
 */
export async function verifySignedToken(token: string, lookup: (keyId: string) => Promise<SigningLookup>, now: number): Promise<SignedResult> {
  if (!COMPACT.test(token)) return fail('invalid_signature', 'The token is not a compact JWS.');
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return fail('invalid_signature', 'The token is not a JWT.');
  }
  if (typeof iss !== 'string' || !KEY_ID.test(iss)) return fail('invalid_signature', 'The token\'s iss must be the key id.');
  const found = await lookup(iss);
  if (!found.ok) return fail('store_unavailable', 'Too many signing-key lookups are in progress; retry shortly.');
  if (found.key === null) return fail('invalid_signature');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, found.key.hmac, {
      algorithms: ['HS256'],
      issuer: iss,
      requiredClaims: ['iss', 'iat', 'exp', 'jti'],
      clockTolerance: CLOCK_SKEW_S,
      currentDate: new Date(now),
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) return fail('token_expired');
    return fail('invalid_signature', error instanceof errors.JOSEAlgNotAllowed ? 'Signed requests use HS256 only.' : undefined);
  }
  const { iat, exp, jti } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp)) return fail('invalid_signature', 'iat and exp must be numbers.');
  if (typeof jti !== 'string' || !JTI.test(jti)) return fail('invalid_signature', 'jti must be 1-128 printable ASCII characters.');
  if (exp - iat > MAX_TOKEN_LIFETIME_S) return fail('token_lifetime_too_long', `exp may be at most ${MAX_TOKEN_LIFETIME_S} s after iat.`);
  if (exp <= iat) return fail('invalid_signature', 'exp must be after iat.');
  // Issued in the future beyond the skew: not valid yet (and its lifetime would not bound it).
  if (iat > now / 1000 + CLOCK_SKEW_S) return fail('token_expired', `The token's iat is in the future (more than ${CLOCK_SKEW_S} s of clock skew).`);
  return { ok: true, token: { keyId: iss, digest: found.key.digest, jti, replayUntil: (exp + CLOCK_SKEW_S) * 1000 } };
}
