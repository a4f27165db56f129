// Key lookup by digest through three tiers: a bounded isolate LRU (short TTL), KV (binding
// KEYS, one snapshot per digest), and D1, the system of record (backfilling KV on a miss).
// Admin changes write through to KV and drop the local LRU entry. Unknown digests are cached
// apart from known keys, concurrent lookups of one digest share one read, and lookups that
// reach D1 are bounded per isolate, so forged keys with valid checksums can neither evict real
// keys nor turn one isolate into a D1 load generator.

import { InFlight } from '../lib/in-flight';
import { LruCache } from '../lib/lru';
import type { KeyRecord } from './record';
import { KeyRepository } from './repository';

export type LookupSource = 'memory' | 'kv' | 'd1';
/**
 * A lookup's answer. `busy`: too many lookups of keys unknown to the isolate and to KV are
 * running in this isolate; the key was not looked up (callers answer 503, never 401: a real key
 * must not be told it is invalid, and clients retry a 503).
 */
export type Lookup = { record: KeyRecord | null; source: LookupSource } | { record: null; source: 'busy' };

export const KV_PREFIX = 'key:';
const NEGATIVE_TTL_MS = 30_000;
const KV_MIN_TTL_S = 60;
/** Distinct digests looked up past the isolate tier at once (memory bound of the in-flight map). */
export const MAX_COLD_LOOKUPS = 1_024;
/** Of those, lookups that missed KV and ask D1, the system of record: forged keys always do. */
export const MAX_D1_FALLBACKS = 32;
const KV_MAX_EXPIRATION_S = 2 ** 31 - 1;
/** Longer than any KV or D1 read is allowed to take: past it, a read is not shared any more. */
const IN_FLIGHT_TTL_MS = 30_000;

// Module scope on purpose: shared by every request the isolate serves. Bounded.
const cache = new LruCache<string, KeyRecord>(10_000, 10_000);
// Unknown digests live in their own LRU: a flood of forged keys (random digests, valid
// checksums) evicts only other unknown digests, never a known key.
const unknown = new LruCache<string, true>(10_000, NEGATIVE_TTL_MS);
// Cold lookups in flight, one per digest: concurrent requests with the same key share one
// KV (and D1) read. Entries leave when their lookup settles (or after IN_FLIGHT_TTL_MS).
const inFlight = new InFlight<string, Lookup>(MAX_COLD_LOOKUPS, IN_FLIGHT_TTL_MS);
let d1Fallbacks = 0;
// Fresh reads in flight (lookupFresh), one per digest, same bounds.
const freshInFlight = new InFlight<string, KeyRecord | null>(MAX_COLD_LOOKUPS, IN_FLIGHT_TTL_MS);

/** Drops the isolate tier (tests). */
export function clearKeyCache(): void {
  cache.clear();
  unknown.clear();
}

const BUSY: Lookup = Object.freeze({ record: null, source: 'busy' });

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
  lookup(digest: string, backfill: (p: Promise<unknown>) => void): Promise<Lookup> {
    const hit = this.cached(digest);
    if (hit) return Promise.resolve(hit);
    const pending = inFlight.get(digest);
    if (pending) return pending;
    if (!inFlight.hasRoom()) return Promise.resolve(BUSY);
    return inFlight.track(digest, this.coldLookup(digest, backfill));
  }

  private async coldLookup(digest: string, backfill: (p: Promise<unknown>) => void): Promise<Lookup> {
    const fromKv = await this.kv.get<KeyRecord>(KV_PREFIX + digest, 'json');
    if (fromKv) {
      this.remember(fromKv);
      return { record: fromKv, source: 'kv' };
    }
    if (d1Fallbacks >= MAX_D1_FALLBACKS) return BUSY;
    d1Fallbacks++;
    let fromDb: KeyRecord | null;
    try {
      fromDb = await this.repo.byDigest(digest);
    } finally {
      d1Fallbacks--;
    }
    if (fromDb) {
      this.remember(fromDb);
      backfill(this.writeSnapshot(fromDb).catch(() => undefined));
      return { record: fromDb, source: 'd1' };
    }
    // Unknown digests are remembered briefly so repeated bogus keys do not hammer D1.
    unknown.set(digest, true, Math.min(NEGATIVE_TTL_MS, Math.max(this.cacheTtlMs, 1)));
    return { record: null, source: 'd1' };
  }

  /** The isolate tier alone, synchronously: a warm lookup needs no promise and no await. */
  cached(digest: string): Lookup | undefined {
    const record = cache.get(digest);
    if (record !== undefined) return { record, source: 'memory' };
    return unknown.get(digest) === undefined ? undefined : { record: null, source: 'memory' };
  }

  /**
   * The key as KV holds it now (D1 when KV has no snapshot), past the isolate tier: for
   * decisions that must not trust an isolate's copy, such as the revocation check while the
   * limit store is unreachable. KV is where admin changes propagate, so a revoked key reads as
   * revoked here within KV's propagation time. Refreshes the isolate tier with what it read.
   */
  lookupFresh(digest: string): Promise<KeyRecord | null> {
    // During an outage every request of a busy key asks: concurrent ones share one read.
    const pending = freshInFlight.get(digest);
    if (pending) return pending;
    const read = this.readFresh(digest);
    return freshInFlight.hasRoom() ? freshInFlight.track(digest, read) : read;
  }

  private async readFresh(digest: string): Promise<KeyRecord | null> {
    const record = (await this.kv.get<KeyRecord>(KV_PREFIX + digest, 'json')) ?? (await this.repo.byDigest(digest));
    if (record) this.remember(record);
    else cache.delete(digest);
    return record;
  }

  private remember(record: KeyRecord): void {
    unknown.delete(record.digest);
    if (this.cacheTtlMs > 0) cache.set(record.digest, record, this.cacheTtlMs);
  }

  /** Write-through after every admin change: KV first-class copy, local cache dropped. */
  async writeSnapshot(record: KeyRecord): Promise<void> {
    cache.delete(record.digest);
    unknown.delete(record.digest);
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
    unknown.delete(digest);
    await this.kv.delete(KV_PREFIX + digest);
  }
}
