// Token usage from OpenAI-compatible chat responses: the `usage` object of a JSON body, or of
// the final chunk of a stream. OpenAI only sends that chunk when the request asked for
// `stream_options.include_usage`; without it a stream reports no usage at all.
import { isRecord, parseJson, tokenCount } from './fields';
import type { SseUsageReader, TokenUsage } from './types';

/** Usage from a parsed JSON body (a chat.completion, or a chunk), or null when it has none. */
export function openAiUsageFromJson(body: unknown): TokenUsage | null {
  if (!isRecord(body) || !isRecord(body.usage)) return null;
  const input = tokenCount(body.usage.prompt_tokens);
  // Embeddings report prompt_tokens only; anything else in completion_tokens is malformed.
  const output = body.usage.completion_tokens === undefined ? 0 : tokenCount(body.usage.completion_tokens);
  return input === null || output === null ? null : { input, output };
}

/**
 * Reads an OpenAI stream. Chunks carry `usage: null` until the usage chunk; some compatible
 * servers repeat a cumulative usage on every chunk, so the latest one wins.
 */
export function openAiSseUsage(): SseUsageReader {
  let latest: TokenUsage | null = null;
  return {
    onEvent({ data }) {
      if (data === '[DONE]') return;
      latest = openAiUsageFromJson(parseJson(data)) ?? latest;
    },
    usage: () => latest,
  };
}
