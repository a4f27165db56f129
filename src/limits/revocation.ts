// The instant-revocation check on its own (no windows, no budget): for callers that
// authenticate with a key outside the proxied path, such as admin-scoped keys and the
// key-holder endpoints. One store call; the marker beats any stale KV or isolate cache.

import type { BlockReason } from './store';
import type { LimitStore } from './store';
import type { StoreGuard } from './guard';

export type MarkerCheck = { ok: true } | { ok: false; reason: BlockReason | 'store_unavailable' };

export async function checkRevocationMarker(deps: { limits: LimitStore; guard: StoreGuard; storeTimeoutMs: number }, keyId: string): Promise<MarkerCheck> {
  const guarded = await deps.guard.run('marker', deps.storeTimeoutMs, () => deps.limits.admit({ keyId, counters: [], now: Date.now() }));
  if (!guarded.ok) return { ok: false, reason: 'store_unavailable' };
  if (guarded.value.status === 'blocked') return { ok: false, reason: guarded.value.reason };
  return { ok: true };
}
