// Builds signed-request tokens the way a client would (jose), including broken ones.

import { SignJWT, generateKeyPair } from 'jose';

export interface Claims {
  iss?: string;
  iat?: number;
  exp?: number;
  jti?: string;
  [claim: string]: unknown;
}

const nowS = () => Math.floor(Date.now() / 1000);

/** A valid HS256 token for the key, unless `claims` says otherwise. */
export function signToken(keyId: string, secret: string, claims: Claims = {}): Promise<string> {
  const iat = claims.iat ?? nowS();
  const payload = { iss: keyId, iat, exp: iat + 60, jti: crypto.randomUUID(), ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

const b64url = (value: unknown) => btoa(JSON.stringify(value)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** `alg: none`: no signature at all. */
export function unsignedToken(keyId: string): string {
  const iat = nowS();
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: keyId, iat, exp: iat + 60, jti: crypto.randomUUID() })}.`;
}

/** Signed with an asymmetric algorithm (RS256, EdDSA): must never be accepted in place of HS256. */
export async function asymmetricToken(keyId: string, alg: 'RS256' | 'EdDSA'): Promise<string> {
  const { privateKey } = await generateKeyPair(alg);
  const iat = nowS();
  return new SignJWT({ iss: keyId, iat, exp: iat + 60, jti: crypto.randomUUID() }).setProtectedHeader({ alg }).sign(privateKey);
}

export const jwtAuth = (token: string) => ({ authorization: `JWT ${token}` });
