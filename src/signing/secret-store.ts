// Signing secrets of key/secret pairs: issued and rotated by the admin API, read by the
// signed-request check. D1 (table signing_secrets) holds them sealed (src/lib/secret-box.ts);
// this isolate keeps the opened secret only as a non-extractable HMAC CryptoKey, in a small
// bounded cache with a short TTL, so a rotated secret stops working everywhere within it.
// The plaintext exists in the create/rotate response only: never logged, never audited.

import { LruCache } from '../lib/lru';
import type { SqlGuard } from '../keys/repository';
import { SecretBox, toBase64Url, type Sealed } from '../lib/secret-box';

/** What a signed request is verified with: the key's digest (for the key record) and its HMAC key. */
export interface SigningKey {
  digest: string;
  hmac: CryptoKey;
}

export type SigningLookup = { ok: true; key: SigningKey | null } | { ok: false; code: 'store_unavailable' };

const encoder = new TextEncoder();
// Opened secrets: at most 10 s old, like the key cache; unknown key ids are cached apart so
// a flood of made-up issuers never evicts real ones.
const known = new LruCache<string, SigningKey>(10_000, 10_000);
const unknown = new LruCache<string, true>(10_000, 10_000);
// Lookups in flight per key id, and a cap on D1 reads at once from this isolate.
const inFlight = new Map<string, Promise<SigningKey | null>>();
const MAX_IN_FLIGHT = 32;

/** A new signing secret: `kgs_` and 32 random bytes in base64url. Clients HMAC with the UTF-8 bytes of the whole string. */
export function newSigningSecret(): string {
  return `kgs_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

function importHmac(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
}

interface Row {
  digest: string;
  sealed: string;
  master_version: string;
}

async function load(db: D1Database, box: SecretBox, keyId: string): Promise<SigningKey | null> {
  const row = await db
    .prepare('SELECT k.digest AS digest, s.sealed AS sealed, s.master_version AS master_version FROM signing_secrets s JOIN keys k ON k.id = s.key_id WHERE s.key_id = ?')
    .bind(keyId)
    .first<Row>();
  if (!row) return null;
  const secret = await box.open({ sealed: row.sealed, version: row.master_version }, keyId);
  // Sealed under a master no longer configured, or tampered with: the secret cannot be used.
  if (secret === null) return null;
  return { digest: row.digest, hmac: await importHmac(secret) };
}

/** The signing key of a key id (null: none, or it cannot be opened). */
export async function signingKeyFor(db: D1Database, box: SecretBox, keyId: string): Promise<SigningLookup> {
  const cached = known.get(keyId);
  if (cached) return { ok: true, key: cached };
  if (unknown.get(keyId)) return { ok: true, key: null };
  let pending = inFlight.get(keyId);
  if (!pending) {
    if (inFlight.size >= MAX_IN_FLIGHT) return { ok: false, code: 'store_unavailable' };
    pending = load(db, box, keyId).finally(() => inFlight.delete(keyId));
    inFlight.set(keyId, pending);
  }
  const key = await pending;
  if (key) known.set(keyId, key);
  else unknown.set(keyId, true);
  return { ok: true, key };
}

/** A new secret for `keyId`, sealed to it: the plaintext for the response, the sealed value for D1. */
export async function sealedNewSecret(box: SecretBox, keyId: string): Promise<{ plaintext: string; sealed: Sealed }> {
  const plaintext = newSigningSecret();
  return { plaintext, sealed: await box.seal(plaintext, keyId) };
}

/** Stores (or replaces) a key's sealed secret; `when` guards it inside a batch (a key rotation). */
export function signingSecretStatement(db: D1Database, keyId: string, sealed: Sealed, now: number, when?: SqlGuard): D1PreparedStatement {
  const values = [keyId, sealed.sealed, sealed.version, now, now];
  const upsert = 'ON CONFLICT (key_id) DO UPDATE SET sealed = excluded.sealed, master_version = excluded.master_version, updated_at = excluded.updated_at';
  if (!when) return db.prepare(`INSERT INTO signing_secrets (key_id, sealed, master_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ${upsert}`).bind(...values);
  return db
    .prepare(`INSERT INTO signing_secrets (key_id, sealed, master_version, created_at, updated_at) SELECT ?, ?, ?, ?, ? WHERE ${when.sql} ${upsert}`)
    .bind(...values, ...when.args);
}

/** The key's sealed secret as stored (null: the key has none); it changes whenever the secret is re-issued. */
export async function sealedSigningSecret(db: D1Database, keyId: string): Promise<string | null> {
  return (await db.prepare('SELECT sealed FROM signing_secrets WHERE key_id = ?').bind(keyId).first<string>('sealed')) ?? null;
}

/** Issues (or replaces) a key's signing secret; returns the plaintext, shown once. */
export async function setSigningSecret(db: D1Database, box: SecretBox, keyId: string, now: number, audit: D1PreparedStatement): Promise<string> {
  const { plaintext, sealed } = await sealedNewSecret(box, keyId);
  await db.batch([signingSecretStatement(db, keyId, sealed, now), audit]);
  forgetSigningKey(keyId);
  return plaintext;
}

/** Drops this isolate's copy (other isolates drop theirs within the cache TTL). */
export function forgetSigningKey(keyId: string): void {
  known.delete(keyId);
  unknown.delete(keyId);
}
