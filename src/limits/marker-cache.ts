// Recently read revocation markers, per isolate: on routes where a request needs the store only
// for the marker (no limits, budget, credits, lease or owner), a key whose marker was read
// clear less than the route's `revocation_max_staleness_ms` ago skips the store call. A cache,
// never the truth: a revoked key is refused everywhere within that interval (and at once in
// the isolate that revoked it, which drops its entry).

import { LruCache } from '../lib/lru';

/** Longest a clear marker is trusted (the route field's maximum). */
const MAX_TTL_MS = 60_000;
// Module scope on purpose: shared by every request the isolate serves. Bounded.
const clear = new LruCache<string, true>(10_000, MAX_TTL_MS);

export function markerReadRecently(keyId: string): boolean {
  return clear.get(keyId) !== undefined;
}

export function rememberClearMarker(keyId: string, ttlMs: number): void {
  if (ttlMs > 0) clear.set(keyId, true, Math.min(ttlMs, MAX_TTL_MS));
}

/** After this isolate writes a key's marker: read it from the store next time. */
export function forgetMarker(keyId: string): void {
  clear.delete(keyId);
}

/** Drops every entry (tests). */
export function clearMarkerCache(): void {
  clear.clear();
}
