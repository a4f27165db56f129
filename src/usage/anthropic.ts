// Token usage from Anthropic Messages responses: the `usage` object of a JSON body, or the
// `message_start` and `message_delta` events of a stream.
//
// Anthropic's input_tokens excludes prompt-cache reads and writes; they are added to `input`
// because the upstream processed them all (OpenAI's prompt_tokens already includes cached ones).
import { isRecord, parseJson, tokenCount } from './fields';
import type { SseUsageReader, TokenUsage } from './types';

/** Usage from a parsed Messages JSON body, or null when it has none. */
export function anthropicUsageFromJson(body: unknown): TokenUsage | null {
  if (!isRecord(body) || !isRecord(body.usage)) return null;
  const u = body.usage;
  const input = tokenCount(u.input_tokens);
  const output = tokenCount(u.output_tokens);
  if (input === null || output === null) return null;
  return { input: input + cacheTokens(u.cache_creation_input_tokens) + cacheTokens(u.cache_read_input_tokens), output };
}

/** Cache counts are optional and may be null. */
function cacheTokens(value: unknown): number {
  return tokenCount(value) ?? 0;
}

/**
 * Reads an Anthropic stream. `message_start` reports the input (and an initial output count);
 * `message_delta` reports output_tokens CUMULATIVELY, so the latest value replaces, never adds.
 *
 * message_delta only comes at the end. When a stream stops before it (client disconnect,
 * upstream error), the output is estimated from the deltas streamed so far, so that leaving
 * early does not make a long answer cost one token: the larger of one token per delta event
 * and a quarter token per character.
 */
export function anthropicSseUsage(): SseUsageReader {
  let input: number | null = null;
  let cacheCreation = 0;
  let cacheRead = 0;
  let reportedOutput: number | null = null;
  let finalReported = false;
  let deltaEvents = 0;
  let deltaChars = 0;

  const readUsage = (u: Record<string, unknown>, final: boolean): void => {
    input = tokenCount(u.input_tokens) ?? input;
    cacheCreation = tokenCount(u.cache_creation_input_tokens) ?? cacheCreation;
    cacheRead = tokenCount(u.cache_read_input_tokens) ?? cacheRead;
    const output = tokenCount(u.output_tokens);
    if (output !== null) {
      reportedOutput = output;
      finalReported ||= final;
    }
  };

  return {
    onEvent({ event, data }) {
      const payload = parseJson(data);
      if (!isRecord(payload)) return;
      const type = typeof payload.type === 'string' ? payload.type : event;
      if (type === 'message_start') {
        if (isRecord(payload.message) && isRecord(payload.message.usage)) readUsage(payload.message.usage, false);
      } else if (type === 'message_delta') {
        if (isRecord(payload.usage)) readUsage(payload.usage, true);
      } else if (type === 'content_block_delta' && isRecord(payload.delta)) {
        deltaEvents += 1;
        deltaChars += streamedChars(payload.delta);
      }
    },
    usage() {
      if (input === null && reportedOutput === null) return null;
      const totalInput = (input ?? 0) + cacheCreation + cacheRead;
      if (finalReported && reportedOutput !== null) return { input: totalInput, output: reportedOutput };
      const estimate = Math.max(deltaEvents, Math.ceil(deltaChars / 4));
      return { input: totalInput, output: Math.max(reportedOutput ?? 0, estimate) };
    },
  };
}

/** Characters of generated text in one delta: text, tool-input JSON or thinking. */
function streamedChars(delta: Record<string, unknown>): number {
  for (const key of ['text', 'partial_json', 'thinking'] as const) {
    const value = delta[key];
    if (typeof value === 'string') return codePoints(value);
  }
  return 0;
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}
