// Test fixtures for the usage meters: realistic OpenAI and Anthropic SSE bodies (the shapes
// the real APIs and the demo upstream send), and helpers to feed bytes through a meter in
// chosen chunks and read everything back.
import { anthropicMessages } from '../../src/usage/formats/anthropic-messages';
import { openAiChat } from '../../src/usage/formats/openai-chat';
import { meterResponse } from '../../src/usage/meter';
import type { TokenUsage, UsageFormat, UsageReading } from '../../src/usage/types';

/** The formats the fixtures' shapes belong to, by the short names the tests use. */
export const FORMAT = { openai: openAiChat, anthropic: anthropicMessages } as const;
export type FormatName = keyof typeof FORMAT;

export interface MeterOptions {
  format: FormatName | UsageFormat;
  contentType: string | null;
}

/** meterResponse with a short format name allowed. */
export function meter(body: ReadableStream<Uint8Array>, opts: MeterOptions) {
  return meterResponse(body, { format: typeof opts.format === 'string' ? FORMAT[opts.format] : opts.format, contentType: opts.contentType });
}

/** The usage a reading holds when the upstream's final report was read, else null. */
export const finalUsage = (r: UsageReading): TokenUsage | null => (r.complete ? r.usage : null);

export const SSE = 'text/event-stream; charset=utf-8';
export const JSON_TYPE = 'application/json';

const encoder = new TextEncoder();
export const bytes = (text: string): Uint8Array => encoder.encode(text);

/** Text with multi-byte UTF-8 (2, 3 and 4 bytes) so byte splits land inside characters. */
export const TOKENS = ['Héllo', ' wörld', ' 世界', ' 🌍', ' ok', ' ✓'];

export interface OpenAiStreamSpec {
  promptTokens: number;
  completionTokens: number;
  includeUsage: boolean;
  /** Extra lines a server may send: comments / keep-alives. */
  keepAlive?: boolean;
}

/** An OpenAI chat.completion.chunk stream, as api.openai.com sends it. */
export function openAiStream(spec: OpenAiStreamSpec): string {
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-x', system_fingerprint: 'fp' };
  const extra = spec.includeUsage ? { usage: null } : {};
  const out: string[] = [];
  const chunk = (choices: unknown[], more: object = extra) => out.push(`data: ${JSON.stringify({ ...base, choices, ...more })}\n\n`);
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  for (let i = 0; i < spec.completionTokens; i++) {
    if (spec.keepAlive && i % 2 === 0) out.push(': keep-alive\n\n');
    chunk([{ index: 0, delta: { content: TOKENS[i % TOKENS.length] }, finish_reason: null }]);
  }
  chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  if (spec.includeUsage) {
    const usage = {
      prompt_tokens: spec.promptTokens,
      completion_tokens: spec.completionTokens,
      total_tokens: spec.promptTokens + spec.completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
    };
    chunk([], { usage });
  }
  out.push('data: [DONE]\n\n');
  return out.join('');
}

export interface AnthropicStreamSpec {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  /** content_block_delta events to send (each one token of TOKENS). */
  deltas: number;
}

/** An Anthropic Messages stream, in Anthropic's exact `event:` + `data:` framing. */
export function anthropicStream(spec: AnthropicStreamSpec): string {
  const out: string[] = [];
  const event = (type: string, data: object) => out.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event('message_start', {
    message: {
      id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [],
      stop_reason: null, stop_sequence: null,
      usage: {
        input_tokens: spec.inputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: spec.cacheReadTokens ?? 0,
        output_tokens: 1,
      },
    },
  });
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  event('ping', {});
  for (let i = 0; i < spec.deltas; i++) {
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: TOKENS[i % TOKENS.length] } });
  }
  event('content_block_stop', { index: 0 });
  event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: spec.outputTokens } });
  event('message_stop', {});
  return out.join('');
}

/** Rewrites the LF line ends of a fixture as CRLF or CR: all three are valid SSE. */
export function withLineEnding(text: string, ending: '\n' | '\r\n' | '\r'): string {
  return text.replaceAll('\n', ending);
}

/** Cuts data at the given byte offsets (any order, duplicates and 0/length allowed). */
export function splitAt(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < data.length).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const p of [...points, data.length]) {
    parts.push(data.slice(start, p));
    start = p;
  }
  return parts;
}

/** A body that delivers the chunks and closes. */
export function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return concat(parts);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** Meters chunks end to end, as a client that reads the whole response would. */
export async function meterChunks(
  chunks: readonly Uint8Array[],
  opts: MeterOptions,
): Promise<{ received: Uint8Array; usage: TokenUsage | null; reading: UsageReading }> {
  const metered = meter(streamOf(chunks), opts);
  const received = await readAll(metered.stream);
  const reading = await metered.reading;
  return { received, usage: finalUsage(reading), reading };
}
