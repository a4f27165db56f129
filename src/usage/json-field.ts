// Reads one top-level field ("usage") of a JSON document as it streams past, without holding
// the document: OpenAI, Anthropic and the Responses API put usage at the end of bodies that a
// client can make arbitrarily large (n, logprobs). The scanner works on bytes (every JSON
// structural character is ASCII, and UTF-8 never hides ASCII inside a multi-byte character),
// keeps a few flags, the current top-level key (bounded) and the field's value (bounded).
//
// Duplicate keys resolve as JSON.parse does: the last complete occurrence wins.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Keys longer than this cannot be the field; their bytes are not kept. */
const MAX_KEY_BYTES = 256;
const DEFAULT_MAX_VALUE_BYTES = 64 * 1024;

export class TopLevelField {
  readonly #field: string;
  readonly #maxValueBytes: number;
  #started = false;
  // Set once the document is not an object or has ended: nothing more is read.
  #done = false;
  #depth = 0;
  #inString = false;
  #escape = false;
  // Depth-1 bookkeeping: is the next string a key, the key being read, did the last key match.
  #expectKey = false;
  #readingKey = false;
  #key: number[] = [];
  #keyTooLong = false;
  #keyMatched = false;
  // The value of a matching key, captured from after its ':' to the ',' or '}' that ends it.
  #capturing = false;
  #captured: Uint8Array[] = [];
  #capturedBytes = 0;
  #captureTooLarge = false;
  #value: unknown = undefined;
  // Next quote and backslash at or after a position of the current chunk, so each indexOf
  // scans a byte once per chunk rather than once per string.
  #quoteAt = -1;
  #backslashAt = -1;

  constructor(field: string, opts: { maxValueBytes?: number } = {}) {
    this.#field = field;
    this.#maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  }

  /** The field's value from the last complete occurrence, or undefined. */
  value(): unknown {
    return this.#value;
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    const n = chunk.length;
    let i = 0;
    this.#quoteAt = -2;
    this.#backslashAt = -2;
    let captureFrom = this.#capturing ? 0 : -1;
    while (i < n) {
      if (this.#inString) {
        i = this.#skipString(chunk, i);
        continue;
      }
      const c = chunk[i] as number;
      if (!this.#started) {
        if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xef || c === 0xbb || c === 0xbf) {
          i++;
          continue;
        }
        this.#started = true;
        if (c !== OPEN_OBJECT) {
          this.#done = true; // not an object: it has no fields
          return;
        }
      }
      if (c === QUOTE) {
        this.#inString = true;
        if (this.#depth === 1 && this.#expectKey) {
          this.#readingKey = true;
          this.#key = [];
          this.#keyTooLong = false;
        }
        i++;
        continue;
      }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        this.#depth++;
        if (this.#depth === 1) this.#expectKey = true;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (this.#depth === 1 && this.#capturing) {
          this.#endCapture(chunk, captureFrom, i);
          captureFrom = -1;
        }
        this.#depth--;
        if (this.#depth <= 0) {
          this.#done = true; // the document ended; anything after it is not JSON we read
          return;
        }
      } else if (this.#depth === 1) {
        if (c === COLON) {
          this.#expectKey = false;
          if (this.#keyMatched) {
            this.#capturing = true;
            this.#captured = [];
            this.#capturedBytes = 0;
            this.#captureTooLarge = false;
            captureFrom = i + 1;
          }
        } else if (c === COMMA) {
          if (this.#capturing) {
            this.#endCapture(chunk, captureFrom, i);
            captureFrom = -1;
          }
          this.#expectKey = true;
          this.#keyMatched = false;
        }
      }
      i++;
    }
    if (this.#capturing && captureFrom !== -1) this.#keep(chunk, captureFrom, n);
  }

  /** Advances through string bytes from i; returns the index after the string or chunk end. */
  #skipString(chunk: Uint8Array, i: number): number {
    const n = chunk.length;
    const start = i;
    let end = n;
    let closed = false;
    while (i < n) {
      if (this.#escape) {
        this.#escape = false;
        i++;
        continue;
      }
      if (this.#quoteAt !== -1 && this.#quoteAt < i) this.#quoteAt = chunk.indexOf(QUOTE, i);
      if (this.#backslashAt !== -1 && this.#backslashAt < i) this.#backslashAt = chunk.indexOf(BACKSLASH, i);
      const q = this.#quoteAt;
      const b = this.#backslashAt;
      if (b !== -1 && (q === -1 || b < q)) {
        this.#escape = true;
        i = b + 1;
        continue;
      }
      if (q === -1) {
        i = n;
        break;
      }
      end = q;
      closed = true;
      i = q + 1;
      break;
    }
    if (this.#readingKey) this.#keepKey(chunk, start, closed ? end : n);
    if (closed) {
      this.#inString = false;
      if (this.#readingKey) {
        this.#readingKey = false;
        this.#keyMatched = this.#matches();
      }
    }
    return i;
  }

  #keepKey(chunk: Uint8Array, from: number, to: number): void {
    if (this.#keyTooLong) return;
    if (this.#key.length + (to - from) > MAX_KEY_BYTES) {
      this.#keyTooLong = true;
      this.#key = [];
      return;
    }
    for (let j = from; j < to; j++) this.#key.push(chunk[j] as number);
  }

  #matches(): boolean {
    if (this.#keyTooLong) return false;
    const raw = String.fromCharCode(...this.#key);
    if (raw === this.#field) return true;
    if (!raw.includes('\\')) return false;
    // An escaped key ("\u0075sage") names the same field for JSON.parse.
    try {
      return JSON.parse(`"${new TextDecoder().decode(new Uint8Array(this.#key))}"`) === this.#field;
    } catch {
      return false;
    }
  }

  #keep(chunk: Uint8Array, from: number, to: number): void {
    if (this.#captureTooLarge || to <= from) return;
    this.#capturedBytes += to - from;
    if (this.#capturedBytes > this.#maxValueBytes) {
      this.#captureTooLarge = true;
      this.#captured = [];
      return;
    }
    this.#captured.push(chunk.slice(from, to));
  }

  #endCapture(chunk: Uint8Array, from: number, to: number): void {
    this.#keep(chunk, Math.max(from, 0), to);
    this.#capturing = false;
    this.#keyMatched = false;
    if (this.#captureTooLarge) {
      // An oversized value is not one we can read; it replaces any earlier one, as it would
      // for JSON.parse, so a later small duplicate is still read but an earlier one is not.
      this.#value = undefined;
      return;
    }
    const all = new Uint8Array(this.#capturedBytes);
    let offset = 0;
    for (const part of this.#captured) {
      all.set(part, offset);
      offset += part.byteLength;
    }
    this.#captured = [];
    try {
      this.#value = JSON.parse(new TextDecoder().decode(all)) as unknown;
    } catch {
      this.#value = undefined;
    }
  }
}
