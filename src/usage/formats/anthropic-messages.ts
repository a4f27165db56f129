// Anthropic Messages (`POST /v1/messages`). Request: messages, system, max_tokens (required).
// Usage: `usage` of the Message (JSON), or the `message_start` and `message_delta` events.
//
// Anthropic's input_tokens excludes prompt-cache reads and writes; they are added to `input`
// because the upstream processed them all (OpenAI's prompt_tokens already includes cached ones).
import { codePoints, isRecord, parseJson, tokenCount } from '../fields';
import { costOf, inputTokens, maxOf, streamedTokens, textChars } from '../estimate';
import type { RequestCost, SseUsageReader, TokenUsage, UsageFormat } from '../types';

export const anthropicMessages: UsageFormat = {
  name: 'anthropic-messages',
  endpoints: [{ methods: ['POST'], path: '/**/messages' }],
  cost: messagesCost,
  jsonUsage: messageUsage,
  sse: messagesStreamReader,
};

export function messagesCost(body: Record<string, unknown>): RequestCost {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const hasSystem = body.system !== undefined && body.system !== null;
  const chars = textChars(messages) + (hasSystem ? textChars(body.system) : 0);
  return costOf(inputTokens(chars, messages.length + (hasSystem ? 1 : 0)), maxOf(body, ['max_tokens']), 1);
}

function messageUsage(u: Record<string, unknown>): TokenUsage | null {
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
 * `message_start` reports the input (and an initial output count); `message_delta` reports
 * output_tokens CUMULATIVELY at the end, so the latest value replaces, never adds. Deltas of
 * text, tool-input JSON and thinking are counted for the estimate used when it never comes.
 */
function messagesStreamReader(): SseUsageReader {
  let input: number | null = null;
  let cacheCreation = 0;
  let cacheRead = 0;
  let output: number | null = null;
  let final = false;
  let deltas = 0;
  let chars = 0;

  const read = (u: Record<string, unknown>, isFinal: boolean): void => {
    input = tokenCount(u.input_tokens) ?? input;
    cacheCreation = tokenCount(u.cache_creation_input_tokens) ?? cacheCreation;
    cacheRead = tokenCount(u.cache_read_input_tokens) ?? cacheRead;
    const reported = tokenCount(u.output_tokens);
    if (reported !== null) {
      output = reported;
      final ||= isFinal;
    }
  };

  return {
    onEvent({ event, data }) {
      const payload = parseJson(data);
      if (!isRecord(payload)) return;
      const type = typeof payload.type === 'string' ? payload.type : event;
      if (type === 'message_start') {
        if (isRecord(payload.message) && isRecord(payload.message.usage)) read(payload.message.usage, false);
      } else if (type === 'message_delta') {
        if (isRecord(payload.usage)) read(payload.usage, true);
      } else if (type === 'content_block_delta' && isRecord(payload.delta)) {
        deltas += 1;
        chars += deltaChars(payload.delta);
      }
    },
    reading() {
      const usage = input === null && output === null ? null : { input: (input ?? 0) + cacheCreation + cacheRead, output: output ?? 0 };
      return { usage, complete: final && input !== null, streamed: streamedTokens(chars, deltas) };
    },
  };
}

function deltaChars(delta: Record<string, unknown>): number {
  for (const key of ['text', 'partial_json', 'thinking'] as const) {
    const value = delta[key];
    if (typeof value === 'string') return codePoints(value);
  }
  return 0;
}
