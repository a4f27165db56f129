// OpenAI Embeddings (`POST /v1/embeddings`). Request: input (text, texts, or token arrays).
// Usage: `{ prompt_tokens, total_tokens }`; there is no output.
import { costOf, inputTokens, textChars } from '../estimate';
import type { UsageFormat } from '../types';
import { promptCompletionUsage } from './openai-shared';

export const openAiEmbeddings: UsageFormat = {
  name: 'openai-embeddings',
  endpoints: [{ methods: ['POST'], path: '/**/embeddings' }],
  cost(body) {
    return costOf(inputOf(body.input), 0, 1);
  },
  jsonUsage: promptCompletionUsage,
};

function inputOf(input: unknown): number {
  if (!Array.isArray(input)) return inputTokens(textChars(input), 0);
  let tokens = 0;
  for (const item of input) tokens += typeof item === 'number' ? 1 : Array.isArray(item) ? item.length : inputTokens(textChars(item), 0);
  return tokens;
}
