// OpenAI legacy Completions (`POST /v1/completions`). Request: prompt (text or token arrays),
// max_tokens (the API's default is 16), n and best_of (best_of completions are generated and
// billed, n returned), stream. Usage as for chat.
import { costOf, maxOf, outputsOf } from '../estimate';
import type { UsageFormat } from '../types';
import { askForStreamUsage, choicesStreamReader, promptCompletionUsage, textOrTokenInput } from './openai-shared';

/** The Completions API's own max_tokens when the request sets none. */
const DEFAULT_MAX_TOKENS = 16;

export const openAiCompletions: UsageFormat = {
  name: 'openai-completions',
  endpoints: [{ methods: ['POST'], path: '/**/completions' }],
  cost(body) {
    return costOf(textOrTokenInput(body.prompt), maxOf(body, ['max_tokens']) ?? DEFAULT_MAX_TOKENS, outputsOf(body, ['n', 'best_of']));
  },
  prepare: askForStreamUsage,
  jsonUsage: promptCompletionUsage,
  sse: choicesStreamReader,
};
