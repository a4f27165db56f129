// OpenAI Responses API (`POST /v1/responses`). Request: input (text or items), instructions,
// max_output_tokens; streams always report usage. Usage: `{ input_tokens, output_tokens }` on
// the Response object: top-level in JSON, and `response.usage` of the `response.completed`
// (or `response.incomplete` / `response.failed`) event of a stream. A `background` response
// answers before it has usage, and is charged its full reservation.
import { codePoints, isRecord, parseJson, tokenCount } from '../fields';
import { costOf, inputTokens, maxOf, streamedTokens, textChars } from '../estimate';
import type { SseUsageReader, TokenUsage, UsageFormat } from '../types';

const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export const openAiResponses: UsageFormat = {
  name: 'openai-responses',
  endpoints: [{ methods: ['POST'], path: '/**/responses' }],
  cost(body) {
    const messages = Array.isArray(body.input) ? body.input.length : 1;
    const chars = textChars(body.input) + textChars(body.instructions);
    return costOf(inputTokens(chars, messages), maxOf(body, ['max_output_tokens']), 1);
  },
  jsonUsage: inputOutputUsage,
  sse: responsesStreamReader,
};

/** `{ input_tokens, output_tokens }` (input includes cached tokens, output reasoning tokens). */
function inputOutputUsage(u: Record<string, unknown>): TokenUsage | null {
  const input = tokenCount(u.input_tokens);
  const output = tokenCount(u.output_tokens);
  return input === null || output === null ? null : { input, output };
}

/**
 * Every `*.delta` event carries generated text in `delta` (output text, tool-call arguments,
 * reasoning summaries, refusals): it is counted for the estimate used when no final event
 * comes. The final event's Response repeats the whole output, so it can be large; an event past
 * the SSE parser's bound leaves the stream charged by the estimate rule.
 */
function responsesStreamReader(): SseUsageReader {
  let usage: TokenUsage | null = null;
  let chars = 0;
  let deltas = 0;
  return {
    onEvent({ event, data }) {
      const payload = parseJson(data);
      if (!isRecord(payload)) return;
      const type = typeof payload.type === 'string' ? payload.type : event;
      if (FINAL_EVENTS.has(type)) {
        if (isRecord(payload.response) && isRecord(payload.response.usage)) usage = inputOutputUsage(payload.response.usage) ?? usage;
      } else if (type.endsWith('.delta') && typeof payload.delta === 'string') {
        chars += codePoints(payload.delta);
        deltas += 1;
      }
    },
    reading: () => ({ usage, complete: usage !== null, streamed: streamedTokens(chars, deltas) }),
  };
}
