// Key pairs of the test identity provider (admin sign-in), made per test run.
import { generateKeyPairSync } from 'node:crypto';

/** @param {'rsa' | 'ec'} type @param {string} kid @param {string} alg */
function make(type, kid, alg) {
  const { privateKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { .../** @type {Record<string, unknown>} */ (privateKey.export({ format: 'jwk' })), kid, alg };
}

/** `rs` and `es` are published in the JWKS; `rogue` reuses `rs`'s kid with another key and is not. */
export function makeIdpKeys() {
  return { rs: make('rsa', 'idp-rs-1', 'RS256'), es: make('ec', 'idp-es-1', 'ES256'), rogue: make('rsa', 'idp-rs-1', 'RS256') };
}

/** @param {Record<string, unknown>} key */
export function publicJwk(key) {
  return Object.fromEntries(Object.entries(key).filter(([n]) => !['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(n)));
}
