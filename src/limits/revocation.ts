// The instant-revocation marker outside the proxied path: reading it for callers that
// authenticate a key elsewhere (admin-scoped keys, key holders, /admin/verify), and writing
// it after admin changes. One store call each; the marker beats any stale KV or isolate cache.

import type { BlockReason } from './store';
import type { LimitStore } from './store';
import type { StoreGuard } from './guard';
import { storeTimeouts } from './timeouts';
import { counterIdOf, type KeyRecord } from '../keys/record';

export type MarkerCheck = { ok: true } | { ok: false; reason: BlockReason | 'store_unavailable' };

interface MarkerDeps {
  limits: LimitStore;
  guard: StoreGuard;
  storeTimeoutMs: number;
}

export async function checkRevocationMarker(deps: MarkerDeps, key: Pick<KeyRecord, 'id' | 'counter_id'>): Promise<MarkerCheck> {
  const input = { keyId: key.id, counterId: counterIdOf(key), counters: [], now: Date.now() };
  const guarded = await deps.guard.run('marker', storeTimeouts(deps.storeTimeoutMs).marker, () => deps.limits.admit(input));
  if (!guarded.ok) return { ok: false, reason: 'store_unavailable' };
  if (guarded.value.status === 'blocked') return { ok: false, reason: guarded.value.reason };
  return { ok: true };
}

/** Sets (or with null clears) a key's marker; false when the store failed or timed out. */
export async function writeRevocationMarker(deps: MarkerDeps, key: { keyId: string; counterId: string }, reason: BlockReason | null): Promise<boolean> {
  const guarded = await deps.guard.run('set_blocked', storeTimeouts(deps.storeTimeoutMs).markerWrite, () => deps.limits.setBlocked(key.keyId, reason, key.counterId));
  return guarded.ok;
}
