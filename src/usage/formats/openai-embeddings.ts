// OpenAI Embeddings (`POST /v1/embeddings`). Request: input (text, texts, or token arrays).
// Usage: `{ prompt_tokens, total_tokens }`; there is no output.
import { costOf } from '../estimate';
import type { UsageFormat } from '../types';
import { promptCompletionUsage, textOrTokenInput } from './openai-shared';

export const openAiEmbeddings: UsageFormat = {
  name: 'openai-embeddings',
  endpoints: [{ methods: ['POST'], path: '/**/embeddings' }],
  cost(body) {
    return costOf(textOrTokenInput(body.input), 0, 1);
  },
  jsonUsage: promptCompletionUsage,
};
