// Promises in flight, one per key, shared by concurrent callers; bounded, and each entry
// leaves when its promise settles or, if it never does (a read hung past every timeout),
// when its TTL ends, so one stuck read cannot hold every later caller of its key.

interface Entry<V> {
  promise: Promise<V>;
  expiresAt: number;
}

export class InFlight<K, V> {
  readonly #map = new Map<K, Entry<V>>();

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {}

  /** The shared promise for `key`, unless none is in flight or it outlived its TTL. */
  get(key: K, now = Date.now()): Promise<V> | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.promise;
    this.#map.delete(key);
    return undefined;
  }

  /** Whether another key fits (expired entries are dropped to make room). */
  hasRoom(now = Date.now()): boolean {
    if (this.#map.size < this.maxEntries) return true;
    for (const [key, entry] of this.#map) if (entry.expiresAt <= now) this.#map.delete(key);
    return this.#map.size < this.maxEntries;
  }

  /** Shares `promise` for `key` until it settles; returns it. */
  track(key: K, promise: Promise<V>, now = Date.now()): Promise<V> {
    const entry: Entry<V> = { promise, expiresAt: now + this.ttlMs };
    this.#map.set(key, entry);
    const leave = () => {
      if (this.#map.get(key) === entry) this.#map.delete(key);
    };
    promise.then(leave, leave);
    return promise;
  }

  get size(): number {
    return this.#map.size;
  }
}
