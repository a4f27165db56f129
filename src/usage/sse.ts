// Incremental Server-Sent Events parser, following the WHATWG "event stream interpretation"
// rules: bytes arrive in arbitrary chunks (a line, a CRLF pair or a UTF-8 character may be split
// between two), and each blank line dispatches the event built from the lines before it.

export interface SseEvent {
  /** The `event:` field, or "message" when the event had none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/** Thrown by SseParser.push when one event grows past the parser's bound. */
export class SseEventTooLargeError extends Error {
  constructor(limit: number) {
    super(`SSE event larger than ${limit} characters`);
    this.name = 'SseEventTooLargeError';
  }
}

const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_MAX_EVENT_CHARS = 1024 * 1024;

export class SseParser {
  // The decoder keeps a UTF-8 sequence split across chunks until its last byte arrives, and
  // drops a leading BOM as the spec asks.
  readonly #decoder = new TextDecoder('utf-8');
  readonly #maxEventChars: number;
  #line = '';
  #data = '';
  #eventType = '';
  // A chunk ended in CR: if the next one starts with LF, that LF belongs to the same line end.
  #skipLeadingLf = false;
  readonly #skipOversized: boolean;
  // Skip mode: the event being read grew past the bound and is dropped up to its blank line;
  // the line being read when it did is dropped up to its line end.
  #skippingEvent = false;
  #discardingLine = false;

  /**
   * `oversized`: what an event past maxEventChars does: `throw` SseEventTooLargeError (the
   * default), or `skip` it, so that the events after it are still read.
   */
  constructor(options: { maxEventChars?: number; oversized?: 'throw' | 'skip' } = {}) {
    this.#maxEventChars = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
    this.#skipOversized = options.oversized === 'skip';
  }

  /** Feeds the next bytes; returns the events they completed, in order. */
  push(chunk: Uint8Array): SseEvent[] {
    const events: SseEvent[] = [];
    this.#consume(this.#decoder.decode(chunk, { stream: true }), events);
    if (this.#line.length + this.#data.length > this.#maxEventChars) {
      if (!this.#skipOversized) throw new SseEventTooLargeError(this.#maxEventChars);
      this.#skippingEvent = true;
      this.#data = '';
      if (this.#line !== '') this.#discardingLine = true;
      this.#line = '';
    }
    return events;
  }

  /**
   * Ends the stream. An event not closed by a blank line is discarded, as the spec requires,
   * so only the events completed by the final bytes are returned.
   */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    this.#consume(this.#decoder.decode(), events);
    this.#line = '';
    this.#data = '';
    this.#eventType = '';
    return events;
  }

  #consume(text: string, events: SseEvent[]): void {
    let start = 0;
    if (this.#skipLeadingLf && text.length > 0) {
      this.#skipLeadingLf = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const line = this.#line + text.slice(start, i);
      this.#line = '';
      if (c === CR) {
        if (i + 1 === text.length) this.#skipLeadingLf = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
      this.#processLine(line, events);
    }
    this.#line += text.slice(start);
  }

  #processLine(line: string, events: SseEvent[]): void {
    if (this.#discardingLine) {
      this.#discardingLine = false;
      return;
    }
    if (line === '') return this.#dispatch(events);
    if (this.#skippingEvent) return;
    // Checked per line too, so that whether an event is skipped never depends on chunking.
    if (this.#skipOversized && this.#data.length + line.length > this.#maxEventChars) {
      this.#skippingEvent = true;
      this.#data = '';
      return;
    }
    if (line.startsWith(':')) return; // comment, e.g. ": keep-alive"
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data += `${value}\n`;
    else if (field === 'event') this.#eventType = value;
    // `id` and `retry` only matter to reconnecting clients; unknown fields are ignored.
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#skippingEvent) this.#skippingEvent = false;
    else if (this.#data !== '') {
      events.push({ event: this.#eventType === '' ? 'message' : this.#eventType, data: this.#data.slice(0, -1) });
    }
    this.#data = '';
    this.#eventType = '';
  }
}
