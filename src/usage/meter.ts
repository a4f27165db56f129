// Meters an LLM response while it streams to the client. Every chunk passes through unchanged
// the moment it arrives; a side observer reads the usage the upstream reports (SSE events, or
// a JSON body up to a size bound). Observing never throws into the stream: malformed upstream
// data only costs the usage, never the response.
import { anthropicSseUsage, anthropicUsageFromJson } from './anthropic';
import { parseJson } from './fields';
import { openAiSseUsage, openAiUsageFromJson } from './openai';
import { SseParser } from './sse';
import type { SseUsageReader, TokenUsage } from './types';

export interface MeterOptions {
  format: 'openai' | 'anthropic';
  /** The upstream's Content-Type: `text/event-stream` is read as SSE, anything else as JSON. */
  contentType: string | null;
  /** JSON bodies larger than this are passed through but not metered (usage null). */
  maxJsonBytes?: number;
}

export interface MeteredResponse {
  /** The upstream body, byte for byte; give this to the client. */
  stream: ReadableStream<Uint8Array>;
  /**
   * Settles once the body has finished, been cancelled by the client, or failed; never
   * rejects. Holds the usage reported so far, or null when the upstream reported none.
   */
  usage: Promise<TokenUsage | null>;
}

const DEFAULT_MAX_JSON_BYTES = 1024 * 1024;

interface UsageObserver {
  observe(chunk: Uint8Array): void;
  /**
   * The body ended, normally or early (client cancel, upstream error). Both read the same:
   * an unfinished SSE event or JSON document never counts, so nothing needs telling apart.
   */
  finish(): TokenUsage | null;
}

export function meterResponse(body: ReadableStream<Uint8Array>, opts: MeterOptions): MeteredResponse {
  const observer = isEventStream(opts.contentType)
    ? sseObserver(opts.format === 'openai' ? openAiSseUsage() : anthropicSseUsage())
    : jsonObserver(opts.format, opts.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES);

  const pass = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      // Observe before enqueueing: once enqueued, the runtime may take the chunk's buffer.
      observer.observe(chunk);
      controller.enqueue(chunk);
    },
  });

  // pipeTo settles when the body ends, when the upstream errors, or when the client cancels
  // the readable side (the pipe then cancels the upstream body too).
  const finish = (): TokenUsage | null => {
    try {
      return observer.finish();
    } catch {
      return null;
    }
  };
  const usage = body.pipeTo(pass.writable).then(finish, finish);
  return { stream: pass.readable, usage };
}

function isEventStream(contentType: string | null): boolean {
  const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  return mediaType === 'text/event-stream';
}

function sseObserver(reader: SseUsageReader): UsageObserver {
  const parser = new SseParser();
  // After a parse failure (an oversized event, a non-byte chunk) the observer stops reading
  // and keeps what it had already seen.
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
      return reader.usage();
    },
  };
}

function jsonObserver(format: 'openai' | 'anthropic', maxBytes: number): UsageObserver {
  let chunks: Uint8Array[] = [];
  let size = 0;
  let gaveUp = false;
  return {
    observe(chunk) {
      if (gaveUp) return;
      if (!(chunk instanceof Uint8Array) || size + chunk.byteLength > maxBytes) {
        gaveUp = true;
        chunks = [];
        return;
      }
      size += chunk.byteLength;
      chunks.push(chunk.slice());
    },
    finish() {
      // A body cut short (client cancel, upstream error) does not parse, so it reads as null.
      if (gaveUp) return null;
      const bytes = new Uint8Array(size);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      const body = parseJson(new TextDecoder().decode(bytes));
      return format === 'openai' ? openAiUsageFromJson(body) : anthropicUsageFromJson(body);
    },
  };
}

function fail(): never {
  throw new TypeError('response body chunk is not bytes');
}
