// The identity signing key: a private JWK in the secret IDENTITY_SIGNING_KEY (Ed25519 → EdDSA,
// P-256 → ES256), imported once per isolate. IDENTITY_SIGNING_KEY_PREVIOUS, after a rotation,
// only contributes its public part to the JWKS, so upstreams that cached a token or the key
// set keep verifying through the grace period.

import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';

export type IdentityAlg = 'EdDSA' | 'ES256';

export interface IdentitySigner {
  alg: IdentityAlg;
  kid: string;
  key: CryptoKey;
  /** The public keys to publish: the current one first, then the previous one (if any). */
  jwks: { keys: JWK[] };
}

/** IDENTITY_SIGNING_KEY missing or unusable: a configuration error, refused closed. */
export class IdentityKeyError extends Error {
  override readonly name = 'IdentityKeyError';
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

function parseJwk(name: string, text: unknown): JWK {
  if (typeof text !== 'string' || text.trim() === '') throw new IdentityKeyError(`${name} is not set`);
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new IdentityKeyError(`${name} is not a JSON Web Key`);
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new IdentityKeyError(`${name} is not a JSON Web Key`);
  return jwk as JWK;
}

function algOf(name: string, jwk: JWK): IdentityAlg {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  throw new IdentityKeyError(`${name} must be an Ed25519 (OKP) or P-256 (EC) key`);
}

async function publicJwk(jwk: JWK, alg: IdentityAlg): Promise<JWK> {
  const pub: Record<string, unknown> = {};
  for (const [member, value] of Object.entries(jwk)) if (!PRIVATE_MEMBERS.includes(member) && member !== 'key_ops') pub[member] = value;
  pub.kid = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : await calculateJwkThumbprint(pub as JWK);
  pub.alg = alg;
  pub.use = 'sig';
  return pub as JWK;
}

async function load(current: unknown, previous: unknown): Promise<IdentitySigner> {
  const jwk = parseJwk('IDENTITY_SIGNING_KEY', current);
  const alg = algOf('IDENTITY_SIGNING_KEY', jwk);
  if (typeof jwk.d !== 'string') throw new IdentityKeyError('IDENTITY_SIGNING_KEY must be a private key (with "d")');
  const pub = await publicJwk(jwk, alg);
  let key: CryptoKey;
  try {
    key = (await importJWK({ ...jwk, alg, key_ops: undefined, ext: false }, alg)) as CryptoKey;
  } catch {
    throw new IdentityKeyError('IDENTITY_SIGNING_KEY could not be imported');
  }
  const keys = [pub];
  if (typeof previous === 'string' && previous.trim() !== '') {
    const old = parseJwk('IDENTITY_SIGNING_KEY_PREVIOUS', previous);
    const oldPub = await publicJwk(old, algOf('IDENTITY_SIGNING_KEY_PREVIOUS', old));
    if (oldPub.kid !== pub.kid) keys.push(oldPub);
  }
  return { alg, kid: pub.kid as string, key, jwks: { keys } };
}

let memo: { current: unknown; previous: unknown; signer: Promise<IdentitySigner> } | undefined;

/** The isolate's signer for these env values; rejects with IdentityKeyError when misconfigured. */
export function identitySigner(env: { IDENTITY_SIGNING_KEY?: unknown; IDENTITY_SIGNING_KEY_PREVIOUS?: unknown }): Promise<IdentitySigner> {
  const current = env.IDENTITY_SIGNING_KEY;
  const previous = env.IDENTITY_SIGNING_KEY_PREVIOUS;
  if (memo && memo.current === current && memo.previous === previous) return memo.signer;
  const signer = load(current, previous);
  memo = { current, previous, signer };
  return signer;
}
