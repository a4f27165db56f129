// The instant-revocation marker outside the proxied path: reading it for callers that
// authenticate a key elsewhere (admin-scoped keys, key holders, /admin/verify), and writing
// it after admin changes. One store call each; the marker beats any stale KV or isolate cache.

import type { BlockReason } from './store';
import type { LimitStore } from './store';
import type { StoreGuard } from './guard';
import { storeTimeouts } from './timeouts';

export type MarkerCheck = { ok: true } | { ok: false; reason: BlockReason | 'store_unavailable' };

interface MarkerDeps {
  limits: LimitStore;
  guard: StoreGuard;
  storeTimeoutMs: number;
}

export async function checkRevocationMarker(deps: MarkerDeps, keyId: string): Promise<MarkerCheck> {
  const guarded = await deps.guard.run('marker', storeTimeouts(deps.storeTimeoutMs).marker, () => deps.limits.admit({ keyId, counters: [], now: Date.now() }));
  if (!guarded.ok) return { ok: false, reason: 'store_unavailable' };
  if (guarded.value.status === 'blocked') return { ok: false, reason: guarded.value.reason };
  return { ok: true };
}

/** Sets (or with null clears) a key's marker; false when the store failed or timed out. */
export async function writeRevocationMarker(deps: MarkerDeps, keyId: string, reason: BlockReason | null): Promise<boolean> {
  const guarded = await deps.guard.run('set_blocked', storeTimeouts(deps.storeTimeoutMs).markerWrite, () => deps.limits.setBlocked(keyId, reason));
  return guarded.ok;
}
