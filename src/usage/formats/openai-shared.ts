// Pieces the OpenAI formats share: the chat/completions `usage` object, the stream_options
// rewrite that makes a stream report usage, and a stream reader over chunk `choices`.
import { asksForStream, inputTokens, streamedTokens, textChars } from '../estimate';
import { codePoints, isRecord, parseJson, tokenCount } from '../fields';
import type { SseUsageReader, TokenUsage } from '../types';

/** `{ prompt_tokens, completion_tokens }`; embeddings have no completion_tokens (0). */
export function promptCompletionUsage(u: Record<string, unknown>): TokenUsage | null {
  const input = tokenCount(u.prompt_tokens);
  const output = u.completion_tokens === undefined ? 0 : tokenCount(u.completion_tokens);
  return input === null || output === null ? null : { input, output };
}

/**
 * OpenAI streams report usage only when asked. Any `stream` value the upstream would read as
 * "stream" becomes `true` and gets `stream_options.include_usage: true`, whatever the client
 * sent in stream_options.
 */
export function askForStreamUsage(body: Record<string, unknown>): boolean {
  if (!asksForStream(body.stream)) return false;
  const opts = isRecord(body.stream_options) ? body.stream_options : {};
  if (body.stream === true && opts.include_usage === true) return false;
  body.stream = true;
  body.stream_options = { ...opts, include_usage: true };
  return true;
}

/**
 * Reads a chat or completions stream. Chunks carry `usage: null` until the usage chunk; some
 * compatible servers repeat a cumulative usage on every chunk, so the latest one wins. The
 * text of every choice (`delta.content`, tool-call arguments, refusals, reasoning, or a
 * completion's `text`) is counted for the estimate used when the usage chunk never comes.
 */
export function choicesStreamReader(): SseUsageReader {
  let latest: TokenUsage | null = null;
  let chars = 0;
  let deltas = 0;
  return {
    onEvent({ data }) {
      if (data === '[DONE]') return;
      const chunk = parseJson(data);
      if (!isRecord(chunk)) return;
      if (isRecord(chunk.usage)) latest = promptCompletionUsage(chunk.usage) ?? latest;
      if (!Array.isArray(chunk.choices)) return;
      for (const choice of chunk.choices) {
        if (!isRecord(choice)) continue;
        const n = choiceChars(choice);
        if (n > 0) {
          chars += n;
          deltas += 1;
        }
      }
    },
    reading: () => ({ usage: latest, complete: latest !== null, streamed: streamedTokens(chars, deltas) }),
  };
}

function choiceChars(choice: Record<string, unknown>): number {
  let n = typeof choice.text === 'string' ? codePoints(choice.text) : 0;
  const delta = choice.delta;
  if (!isRecord(delta)) return n;
  for (const field of ['content', 'refusal', 'reasoning_content', 'reasoning'] as const) {
    const value = delta[field];
    if (typeof value === 'string') n += codePoints(value);
  }
  if (Array.isArray(delta.tool_calls)) {
    for (const call of delta.tool_calls) {
      if (isRecord(call) && isRecord(call.function) && typeof call.function.arguments === 'string') n += codePoints(call.function.arguments);
    }
  }
  return n;
}

/** Tokens of an input that is text, a list of texts, a token array or a list of token arrays. */
export function textOrTokenInput(input: unknown): number {
  if (!Array.isArray(input)) return inputTokens(textChars(input), 0);
  let tokens = 0;
  for (const item of input) tokens += typeof item === 'number' ? 1 : Array.isArray(item) ? item.length : inputTokens(textChars(item), 0);
  return tokens;
}
