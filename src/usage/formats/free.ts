// Endpoints of the OpenAI and Anthropic APIs that generate nothing: token counting, model
// lists, and reads, cancels and deletes of stored responses, chat completions and batches
// (their generation was charged when it was created). Listed in the default `metering.paths`;
// requests to them reserve and charge no tokens (request limits still count them).
import type { UsageFormat } from '../types';

const READ = ['GET', 'HEAD'];

export const freeEndpoints: UsageFormat = {
  name: 'free',
  free: true,
  endpoints: [
    { methods: READ, path: '/**/models' },
    { methods: [...READ, 'DELETE'], path: '/**/models/*' },
    { methods: ['POST'], path: '/**/messages/count_tokens' },
    { methods: ['POST'], path: '/**/responses/input_tokens' },
    { methods: [...READ, 'DELETE'], path: '/**/responses/*' },
    { methods: READ, path: '/**/responses/*/input_items' },
    { methods: ['POST'], path: '/**/responses/*/cancel' },
    { methods: READ, path: '/**/chat/completions' },
    { methods: [...READ, 'DELETE'], path: '/**/chat/completions/*' },
    { methods: READ, path: '/**/chat/completions/*/messages' },
    { methods: READ, path: '/**/messages/batches' },
    { methods: [...READ, 'DELETE'], path: '/**/messages/batches/*' },
    { methods: READ, path: '/**/messages/batches/*/results' },
    { methods: ['POST'], path: '/**/messages/batches/*/cancel' },
  ],
};
