// A bounded, TTL-expiring LRU for per-isolate caches. Isolate state is only ever a cache:
// Workers run many isolates, so nothing here is the source of truth.

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class LruCache<K, V> {
  readonly #map = new Map<K, Entry<V>>();

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {
    if (maxEntries < 1) throw new RangeError('maxEntries must be >= 1');
  }

  get(key: K, now = Date.now()): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#map.delete(key);
      return undefined;
    }
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V, ttlMs = this.ttlMs, now = Date.now()): void {
    this.#map.delete(key);
    this.#map.set(key, { value, expiresAt: now + ttlMs });
    while (this.#map.size > this.maxEntries) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  get size(): number {
    return this.#map.size;
  }
}
