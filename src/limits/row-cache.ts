// A limiter object's memory of its own SQLite rows. The object is the only writer of its
// storage and runs one call at a time, so a value it read or wrote stays true until it writes
// again: hot rows (a key's current windows, its marker, its budget) are read from memory
// instead of a SELECT per admission. Whatever a failed transaction may have left half-applied
// is forgotten (clear()), and the object's memory is dropped with the object when it is
// evicted: storage stays the truth.

export class RowCache<V> {
  readonly #rows = new Map<string, V>();

  constructor(readonly maxRows: number) {}

  get(key: string): V | undefined {
    return this.#rows.get(key);
  }

  /** Remembers a row; a full cache starts over rather than growing (rows roll over with their windows). */
  set(key: string, value: V): void {
    if (this.#rows.size >= this.maxRows && !this.#rows.has(key)) this.#rows.clear();
    this.#rows.set(key, value);
  }

  clear(): void {
    this.#rows.clear();
  }

  get size(): number {
    return this.#rows.size;
  }
}
