// Failed admin authentications are throttled per client IP (cf-connecting-ip): after
// MAX_FAILURES in a window, every admin request from that IP answers 429 with Retry-After
// until the window ends. The count lives in a bounded, TTL'd map per isolate: an attacker
// spread over many isolates gets MAX_FAILURES per isolate per window, which still turns a
// token guess into a slow crawl; a successful authentication does not reset the count.

import { LruCache } from '../lib/lru';

export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;

interface Failures {
  count: number;
  resetAt: number;
}

const failures = new LruCache<string, Failures>(10_000, WINDOW_MS);

const clientOf = (ip: string | null): string => ip ?? 'unknown';

/** Seconds until `ip` may try again, or 0 when it is not throttled. */
export function throttledFor(ip: string | null, now = Date.now()): number {
  const f = failures.get(clientOf(ip), now);
  if (!f || f.count < MAX_FAILURES) return 0;
  return Math.max(1, Math.ceil((f.resetAt - now) / 1000));
}

export function recordFailure(ip: string | null, now = Date.now()): void {
  const key = clientOf(ip);
  const f = failures.get(key, now);
  if (f) f.count++;
  else failures.set(key, { count: 1, resetAt: now + WINDOW_MS }, WINDOW_MS, now);
}

/** Drops every count (tests). */
export function clearAuthFailures(): void {
  failures.clear();
}
