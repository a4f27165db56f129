// Meters an LLM response while it streams to the client. Every chunk passes through unchanged
// the moment it arrives; a side observer reads the usage the upstream reports: SSE events
// through the format's stream reader, or the top-level `usage` of a JSON body of any size
// (src/usage/json-field.ts keeps only that field). Observing never throws into the stream:
// malformed upstream data only costs the usage, never the response.
import { TopLevelField } from './json-field';
import { isRecord } from './fields';
import { SseParser } from './sse';
import type { SseUsageReader, TokenUsage, UsageFormat, UsageReading } from './types';

export interface MeterOptions {
  format: UsageFormat;
  /** The upstream's Content-Type: `text/event-stream` is read as SSE, anything else as JSON. */
  contentType: string | null;
}

export interface MeteredResponse {
  /** The upstream body, byte for byte; give this to the client. */
  stream: ReadableStream<Uint8Array>;
  /**
   * Settles once the body has finished, been cancelled by the client, or failed; never
   * rejects. Holds what was read of the usage by then.
   */
  reading: Promise<UsageReading>;
}

const NOTHING: UsageReading = Object.freeze({ usage: null, complete: false, streamed: 0 });

interface UsageObserver {
  observe(chunk: Uint8Array): void;
  /**
   * The body ended, normally or early (client cancel, upstream error). Both read the same:
   * an unfinished SSE event never counts, and a JSON usage counts once its value is complete.
   */
  finish(): UsageReading;
}

export function meterResponse(body: ReadableStream<Uint8Array>, opts: MeterOptions): MeteredResponse {
  const observer = observerFor(opts);

  const pass = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      // Observe before enqueueing: once enqueued, the runtime may take the chunk's buffer.
      observer.observe(chunk);
      controller.enqueue(chunk);
    },
  });

  // pipeTo settles when the body ends, when the upstream errors, or when the client cancels
  // the readable side (the pipe then cancels the upstream body too).
  const finish = (): UsageReading => {
    try {
      return observer.finish();
    } catch {
      return NOTHING;
    }
  };
  const reading = body.pipeTo(pass.writable).then(finish, finish);
  return { stream: pass.readable, reading };
}

function observerFor(opts: MeterOptions): UsageObserver {
  const { format } = opts;
  if (isEventStream(opts.contentType)) return format.sse ? sseObserver(format.sse()) : IGNORE;
  return format.jsonUsage ? jsonObserver(format.jsonUsage) : IGNORE;
}

const IGNORE: UsageObserver = { observe() {}, finish: () => NOTHING };

function isEventStream(contentType: string | null): boolean {
  const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  return mediaType === 'text/event-stream';
}

function sseObserver(reader: SseUsageReader): UsageObserver {
  // An event past the parser's bound (1 MiB) is skipped and the events after it are still
  // read. After any other failure (a non-byte chunk) the observer stops reading and keeps
  // what it had already seen; the charge rule then applies (src/usage/charge.ts).
  const parser = new SseParser({ oversized: 'skip' });
  let broken = false;
  const feed = (events: () => { event: string; data: string }[]): void => {
    if (broken) return;
    try {
      for (const event of events()) reader.onEvent(event);
    } catch {
      broken = true;
    }
  };
  return {
    observe(chunk) {
      feed(() => (chunk instanceof Uint8Array ? parser.push(chunk) : fail()));
    },
    finish() {
      feed(() => parser.end());
      return reader.reading();
    },
  };
}

function jsonObserver(read: (usage: Record<string, unknown>) => TokenUsage | null): UsageObserver {
  const field = new TopLevelField('usage');
  let broken = false;
  return {
    observe(chunk) {
      if (broken) return;
      if (!(chunk instanceof Uint8Array)) {
        broken = true;
        return;
      }
      field.push(chunk);
    },
    finish() {
      if (broken) return NOTHING;
      const value = field.value();
      const usage = isRecord(value) ? read(value) : null;
      return { usage, complete: usage !== null, streamed: 0 };
    },
  };
}

function fail(): never {
  throw new TypeError('response body chunk is not bytes');
}
