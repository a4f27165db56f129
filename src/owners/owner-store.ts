// Owner policies on the proxy path, without a D1 read per request: a bounded isolate LRU
// (the key cache's TTL), then KV (`owner:<name>`, written through by every admin change).
// KV is the hot path's truth for owners: no entry means the owner has no policy, so keys of
// owners without limits cost one cached lookup and nothing more. D1 is the system of record
// the admin API reads and lists.

import { InFlight } from '../lib/in-flight';
import { LruCache } from '../lib/lru';
import type { OwnerRecord } from './record';
import { OwnerRepository } from './repository';

export const OWNER_KV_PREFIX = 'owner:';
const MAX_IN_FLIGHT = 1_024;
const IN_FLIGHT_TTL_MS = 30_000;

// Module scope on purpose: shared by every request the isolate serves. Bounded. `null`
// caches "no policy" as well, so owners without one are not read from KV per request.
const cache = new LruCache<string, OwnerRecord | null>(10_000, 10_000);
const inFlight = new InFlight<string, OwnerRecord | null>(MAX_IN_FLIGHT, IN_FLIGHT_TTL_MS);

/** Drops the isolate tier (tests). */
export function clearOwnerCache(): void {
  cache.clear();
}

export class OwnerStore {
  readonly repo: OwnerRepository;

  constructor(
    private readonly kv: KVNamespace,
    db: D1Database,
    private readonly cacheTtlMs: number,
  ) {
    this.repo = new OwnerRepository(db);
  }

  /** The cached policy record, or undefined when the isolate does not hold one (call lookup). */
  cached(owner: string): OwnerRecord | null | undefined {
    return cache.get(owner);
  }

  /** The owner's record from the isolate cache, else KV; null when it has none. */
  lookup(owner: string): Promise<OwnerRecord | null> {
    const hit = cache.get(owner);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = inFlight.get(owner);
    if (pending) return pending;
    const read = this.kv.get<OwnerRecord>(OWNER_KV_PREFIX + owner, 'json').then((r) => {
      cache.set(owner, r, this.cacheTtlMs);
      return r;
    });
    return inFlight.hasRoom() ? inFlight.track(owner, read) : read;
  }

  /** Write-through after a D1 commit: the KV snapshot, and this isolate's cache. */
  async writeSnapshot(record: OwnerRecord): Promise<void> {
    await this.kv.put(OWNER_KV_PREFIX + record.owner, JSON.stringify(record));
    cache.set(record.owner, record, this.cacheTtlMs);
  }

  async removeSnapshot(owner: string): Promise<void> {
    await this.kv.delete(OWNER_KV_PREFIX + owner);
    cache.delete(owner);
  }
}
