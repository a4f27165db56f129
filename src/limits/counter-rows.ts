// A limiter object's window counts (the `counters` table). Reads go through the object's memory
// of its own rows (row-cache.ts). Writes go to SQLite at once, except inside a batch of
// admissions (group commit): there each admission's increments are staged, kept only if the
// admission returns, and every row the batch touched is written once, with its final count,
// when the batch ends, inside the batch's transaction. A batch of n admissions of one key thus
// writes each of its windows once instead of n times, and what later admissions of the batch
// read includes what earlier ones consumed.

import { RowCache } from './row-cache';
import { windowEnd } from './store';

interface Row {
  name: string;
  bucket: number;
  windowMs: number;
  used: number;
}

const rowKey = (name: string, bucket: number): string => `${name}\0${bucket}`;

export class CounterRows {
  readonly #cache = new RowCache<number>(10_000);
  /** Rows the current batch has changed, with their counts: the truth until the batch ends. */
  #batch: Map<string, Row> | null = null;
  /** The current admission's increments within a batch, by row. */
  #staged: Map<string, Row> | null = null;

  constructor(private readonly sql: SqlStorage) {}

  used(name: string, bucket: number): number {
    const key = rowKey(name, bucket);
    const staged = this.#staged?.get(key) ?? this.#batch?.get(key);
    if (staged !== undefined) return staged.used;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const row = this.sql.exec<{ used: number }>('SELECT used FROM counters WHERE name = ? AND bucket = ?', name, bucket).toArray()[0];
    const used = row?.used ?? 0;
    this.#cache.set(key, used);
    return used;
  }

  /** Adds `delta` (never below zero), as `used = MAX(0, used + delta)`. */
  add(name: string, bucket: number, windowMs: number, delta: number): void {
    // Amounts are checked before the store (admit-input.ts); this keeps a bad one from being
    // staged as zero. The text is one the guard reads as the request's fault (guard.ts).
    if (typeof delta !== 'number' || !Number.isFinite(delta)) throw new TypeError(`datatype mismatch: a window count cannot change by ${String(delta)}`);
    const key = rowKey(name, bucket);
    if (this.#staged) {
      this.#staged.set(key, { name, bucket, windowMs, used: Math.max(0, this.used(name, bucket) + delta) });
      return;
    }
    this.sql.exec(
      `INSERT INTO counters (name, bucket, used, expires) VALUES (?, ?, MAX(0, ?), ?)
       ON CONFLICT (name, bucket) DO UPDATE SET used = MAX(0, used + ?)`,
      name,
      bucket,
      delta,
      windowEnd(bucket, windowMs),
      delta,
    );
    // The statement's arithmetic on the value it started from, when that is known.
    const before = this.#cache.get(key);
    if (before !== undefined) this.#cache.set(key, Math.max(0, before + delta));
  }

  /**
   * Runs a batch of admissions (inside the caller's transaction), then writes every row it
   * changed once. If the writes throw, the caller's transaction rolls back the whole batch.
   */
  batch<T>(admissions: () => T): T {
    this.#batch = new Map();
    try {
      const result = admissions();
      for (const row of this.#batch.values()) {
        this.sql.exec(
          `INSERT INTO counters (name, bucket, used, expires) VALUES (?, ?, ?, ?)
           ON CONFLICT (name, bucket) DO UPDATE SET used = excluded.used`,
          row.name,
          row.bucket,
          row.used,
          windowEnd(row.bucket, row.windowMs),
        );
      }
      for (const [key, row] of this.#batch) this.#cache.set(key, row.used);
      return result;
    } finally {
      this.#batch = null;
    }
  }

  /** One admission of a batch: its increments count only if it returns. */
  admission<T>(admit: () => T): T {
    if (!this.#batch) return admit();
    this.#staged = new Map();
    try {
      const result = admit();
      for (const [key, row] of this.#staged) this.#batch.set(key, row);
      return result;
    } finally {
      this.#staged = null;
    }
  }

  /** Forgets every remembered count (windows swept, or a transaction that failed). */
  forget(): void {
    this.#cache.clear();
  }
}
