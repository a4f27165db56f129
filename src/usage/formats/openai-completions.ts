// OpenAI legacy Completions (`POST /v1/completions`). Request: prompt (text or token arrays),
// max_tokens (the API's default is 16), n and best_of (best_of completions are generated and
// billed, n returned), stream. Usage as for chat.
import { costOf, inputTokens, maxOf, outputsOf, textChars } from '../estimate';
import type { UsageFormat } from '../types';
import { askForStreamUsage, choicesStreamReader, promptCompletionUsage } from './openai-shared';

/** The Completions API's own max_tokens when the request sets none. */
const DEFAULT_MAX_TOKENS = 16;

export const openAiCompletions: UsageFormat = {
  name: 'openai-completions',
  endpoints: [{ methods: ['POST'], path: '/**/completions' }],
  cost(body) {
    return costOf(promptTokens(body.prompt), maxOf(body, ['max_tokens']) ?? DEFAULT_MAX_TOKENS, outputsOf(body, ['n', 'best_of']));
  },
  prepare: askForStreamUsage,
  jsonUsage: promptCompletionUsage,
  sse: choicesStreamReader,
};

/** A prompt is text, a list of texts, a token array or a list of token arrays. */
function promptTokens(prompt: unknown): number {
  if (!Array.isArray(prompt)) return inputTokens(textChars(prompt), 0);
  let tokens = 0;
  for (const item of prompt) tokens += typeof item === 'number' ? 1 : Array.isArray(item) ? item.length : inputTokens(textChars(item), 0);
  return tokens;
}
