// Verifies a presented key string: format and checksum first (no storage touched), then
// lookup by digest, then the access rules, then (where the caller gives one) the limit
// store's revocation marker. The one key-authentication function: the proxy, admin-scoped
// keys, the key-holder endpoints and /admin/verify all call it. The proxy passes no marker
// check because its admission reads the marker in the same store call as the limits.
// Plain inputs, tagged result.

import { checkAccess, type AccessFailure, type AccessRequest } from '../access/access';
import { digestKey } from './digest';
import { checkKey } from './key-format';
import type { KeyStore, LookupSource } from './key-store';
import type { KeyRecord } from './record';
import type { BlockReason } from './status';

export type MarkerFailure = BlockReason | 'store_unavailable';
export type VerifyFailure = 'invalid_key' | AccessFailure | MarkerFailure;
export type VerifyResult =
  | { ok: true; key: KeyRecord; source: LookupSource }
  | { ok: false; code: VerifyFailure; key?: KeyRecord; source?: LookupSource; detail?: string };

export interface VerifyDeps {
  prefixes: ReadonlySet<string>;
  store: KeyStore;
  backfill: (p: Promise<unknown>) => void;
  /** Reads the key's revocation marker (the store beats any stale KV or isolate snapshot). */
  marker?: (key: KeyRecord) => Promise<{ ok: true } | { ok: false; reason: MarkerFailure }>;
}

export async function verifyKey(presented: string, deps: VerifyDeps, access: AccessRequest): Promise<VerifyResult> {
  // Malformed, bad-checksum and unknown keys answer identically: no enumeration.
  if (checkKey(presented, deps.prefixes) !== null) return { ok: false, code: 'invalid_key' };
  return verifyDigest(digestKey(presented), deps, access);
}

/** The checks after the key string: lookup by digest, access rules, marker (signed requests start here). */
export async function verifyDigest(digest: string, deps: VerifyDeps, access: AccessRequest): Promise<VerifyResult> {
  const found = deps.store.cached(digest) ?? (await deps.store.lookup(digest, deps.backfill));
  // Too many unknown-key lookups at once in this isolate: not looked up, so not called invalid.
  if (found.source === 'busy') return { ok: false, code: 'store_unavailable', detail: 'Too many key lookups are in progress; retry shortly.' };
  const { record, source } = found;
  if (!record) return { ok: false, code: 'invalid_key', source };
  const result = checkAccess(record, access);
  if (!result.ok) return { ok: false, code: result.code, key: record, source, detail: result.detail };
  if (deps.marker) {
    const marker = await deps.marker(record);
    // A deleted key's marker reads as invalid_key, answered like any unknown key.
    if (!marker.ok) return marker.reason === 'invalid_key' ? { ok: false, code: 'invalid_key', source } : { ok: false, code: marker.reason, key: record, source };
  }
  return { ok: true, key: record, source };
}
