// Revocation that does not fail open. The store's marker is the instant check: every admission
// reads it, so a revoked key is refused everywhere while the store answers (at once, except
// where an isolate skips a marker-only admission for revocation_max_staleness_ms after reading
// it clear: src/limits/marker-cache.ts). When the
// store cannot answer (error, timeout, open breaker), the key is checked against a fresh read
// of its KV snapshot instead (never the isolate cache), so a revoked, deactivated, expired or
// deleted key is refused within KV's propagation time even during an outage.
//
// checkRevocationMarker is the marker check on its own (no windows, no budget), for callers
// that authenticate a key outside the proxied path: admin-scoped keys, key holders and
// /admin/verify. The proxy's own store-failure branch calls checkFreshSnapshot directly.
// writeRevocationMarker sets it after admin changes.

import type { KeyStore } from '../keys/key-store';
import { counterIdOf, type KeyRecord } from '../keys/record';
import { blockReasonOf, type BlockReason } from '../keys/status';
import type { StoreGuard } from './guard';
import { forgetMarker } from './marker-cache';
import type { LimitStore } from './store';
import type { StoreTimeouts } from './timeouts';

export type MarkerCheck = { ok: true } | { ok: false; reason: BlockReason | 'store_unavailable' };

const OK: MarkerCheck = Object.freeze({ ok: true });

interface MarkerDeps {
  limits: LimitStore;
  guard: StoreGuard;
  timeouts: StoreTimeouts;
}

export interface RevocationDeps extends MarkerDeps {
  keys: KeyStore;
}

export async function checkRevocationMarker(deps: RevocationDeps, key: KeyRecord): Promise<MarkerCheck> {
  const input = { keyId: key.id, counterId: counterIdOf(key), counters: [], now: Date.now() };
  const guarded = await deps.guard.run('marker', deps.timeouts.marker, () => deps.limits.admit(input));
  if (!guarded.ok) return checkFreshSnapshot(deps.keys, key);
  if (guarded.value.status === 'blocked') return { ok: false, reason: guarded.value.reason };
  return OK;
}

/** Why a key read fresh from KV (else D1) may not be used, or ok; store_unavailable when neither answers. */
export async function checkFreshSnapshot(keys: KeyStore, key: KeyRecord, now = Date.now()): Promise<MarkerCheck> {
  let fresh: KeyRecord | null;
  try {
    fresh = await keys.lookupFresh(key.digest);
  } catch {
    return { ok: false, reason: 'store_unavailable' };
  }
  if (fresh === null || fresh.id !== key.id) return { ok: false, reason: 'invalid_key' };
  const reason = blockReasonOf(fresh, now);
  return reason === null ? OK : { ok: false, reason };
}

/** Sets (or with null clears) a key's marker; false when the store failed or timed out. */
export async function writeRevocationMarker(deps: MarkerDeps, key: { keyId: string; counterId: string; owner?: string | null }, reason: BlockReason | null): Promise<boolean> {
  forgetMarker(key.keyId);
  const guarded = await deps.guard.run('set_blocked', deps.timeouts.markerWrite, () => deps.limits.setBlocked(key.keyId, reason, key.counterId, key.owner));
  return guarded.ok;
}
