// Key lookup by digest through three tiers: a bounded isolate LRU (short TTL), KV (binding
// KEYS, one snapshot per digest), and D1, the system of record (backfilling KV on a miss).
// Admin changes write through to KV and drop the local LRU entry.

import { LruCache } from '../lib/lru';
import type { KeyRecord } from './record';
import { KeyRepository } from './repository';

export type LookupSource = 'memory' | 'kv' | 'd1';
export interface Lookup {
  record: KeyRecord | null;
  source: LookupSource;
}

export const KV_PREFIX = 'key:';
const NEGATIVE_TTL_MS = 30_000;
const KV_MIN_TTL_S = 60;
const KV_MAX_EXPIRATION_S = 2 ** 31 - 1;

// Module scope on purpose: shared by every request the isolate serves. Bounded.
const cache = new LruCache<string, KeyRecord | null>(10_000, 10_000);

/** Drops the isolate tier (tests). */
export function clearKeyCache(): void {
  cache.clear();
}

export class KeyStore {
  readonly repo: KeyRepository;

  constructor(
    private readonly kv: KVNamespace,
    db: D1Database,
    private readonly cacheTtlMs: number,
  ) {
    this.repo = new KeyRepository(db);
  }

  /**
   * Finds a key by digest. `backfill` receives the KV write to run after the response
   * (ctx.waitUntil) so a cold lookup does not wait on a KV write.
   */
  async lookup(digest: string, backfill: (p: Promise<unknown>) => void): Promise<Lookup> {
    const hit = this.cached(digest);
    if (hit) return hit;

    const fromKv = await this.kv.get<KeyRecord>(KV_PREFIX + digest, 'json');
    if (fromKv) {
      this.remember(fromKv);
      return { record: fromKv, source: 'kv' };
    }

    const fromDb = await this.repo.byDigest(digest);
    if (fromDb) {
      this.remember(fromDb);
      backfill(this.writeSnapshot(fromDb).catch(() => undefined));
      return { record: fromDb, source: 'd1' };
    }
    // Unknown digests are remembered briefly so repeated bogus keys do not hammer D1.
    cache.set(digest, null, Math.min(NEGATIVE_TTL_MS, Math.max(this.cacheTtlMs, 1)));
    return { record: null, source: 'd1' };
  }

  /** The isolate tier alone, synchronously: a warm lookup needs no promise and no await. */
  cached(digest: string): Lookup | undefined {
    const record = cache.get(digest);
    return record === undefined ? undefined : { record, source: 'memory' };
  }

  private remember(record: KeyRecord): void {
    if (this.cacheTtlMs > 0) cache.set(record.digest, record, this.cacheTtlMs);
  }

  /** Write-through after every admin change: KV first-class copy, local cache dropped. */
  async writeSnapshot(record: KeyRecord): Promise<void> {
    cache.delete(record.digest);
    const opts: KVNamespacePutOptions = {};
    // An expired key's snapshot can leave KV shortly after expiry (D1 still answers "expired").
    // KV's `expiration` must fit a signed 32-bit integer (2038-01-19); later expiries get none,
    // and the record's own expires_at check refuses the key when it passes.
    if (record.expires_at !== null && record.revoked_at === null) {
      const expiration = Math.max(Math.ceil(record.expires_at / 1000) + 3600, Math.ceil(Date.now() / 1000) + KV_MIN_TTL_S);
      if (expiration <= KV_MAX_EXPIRATION_S) opts.expiration = expiration;
    }
    await this.kv.put(KV_PREFIX + record.digest, JSON.stringify(record), opts);
  }

  async removeSnapshot(digest: string): Promise<void> {
    cache.delete(digest);
    await this.kv.delete(KV_PREFIX + digest);
  }
}
