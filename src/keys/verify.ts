// Verifies a presented key string: format and checksum first (no storage touched), then
// lookup by digest, then the access rules. Shared by the gateway, the verify API and admin
// key authentication. Plain inputs, tagged result.

import { checkAccess, type AccessFailure, type AccessRequest } from '../access/access';
import { digestKeySync } from './digest';
import { checkKey } from './key-format';
import type { KeyStore, LookupSource } from './key-store';
import type { KeyRecord } from './record';

export type VerifyFailure = 'invalid_key' | 'store_unavailable' | AccessFailure;
export type VerifyResult =
  | { ok: true; key: KeyRecord; source: LookupSource }
  | { ok: false; code: VerifyFailure; key?: KeyRecord; source?: LookupSource; detail?: string };

export async function verifyKey(
  presented: string,
  deps: { prefixes: ReadonlySet<string>; store: KeyStore; backfill: (p: Promise<unknown>) => void },
  access: AccessRequest,
): Promise<VerifyResult> {
  // Malformed, bad-checksum and unknown keys answer identically: no enumeration.
  if (checkKey(presented, deps.prefixes) !== null) return { ok: false, code: 'invalid_key' };
  const digest = digestKeySync(presented);
  const found = deps.store.cached(digest) ?? (await deps.store.lookup(digest, deps.backfill));
  // Too many unknown-key lookups at once in this isolate: not looked up, so not called invalid.
  if (found.source === 'busy') return { ok: false, code: 'store_unavailable', detail: 'Too many key lookups are in progress; retry shortly.' };
  const { record, source } = found;
  if (!record) return { ok: false, code: 'invalid_key', source };
  const result = checkAccess(record, access);
  if (!result.ok) return { ok: false, code: result.code, key: record, source, detail: result.detail };
  return { ok: true, key: record, source };
}
