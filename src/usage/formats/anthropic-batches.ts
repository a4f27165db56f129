// Anthropic Message Batches (`POST /v1/messages/batches`). One call queues many Messages
// requests (`requests[].params`) whose usage only exists later, in the batch results. The
// create call is therefore charged what every request in it may cost (its input and its
// max_tokens, summed) and keeps that charge: a batch is never cheaper than the same requests
// sent one by one. Reading batches and their results is free (see free.ts).
import { clampTokens, isRecord } from '../fields';
import type { UsageFormat } from '../types';
import { messagesCost } from './anthropic-messages';

export const anthropicBatches: UsageFormat = {
  name: 'anthropic-batches',
  endpoints: [{ methods: ['POST'], path: '/**/messages/batches' }],
  cost(body) {
    let input = 0;
    let maxOutput: number | null = 0;
    let outputs = 0;
    for (const request of Array.isArray(body.requests) ? body.requests : []) {
      const params = isRecord(request) && isRecord(request.params) ? request.params : {};
      const one = messagesCost(params);
      input = clampTokens(input + one.input);
      outputs += 1;
      // One request without max_tokens leaves the whole batch to the ceiling rule.
      maxOutput = maxOutput === null || one.maxOutput === null ? null : clampTokens(maxOutput + one.maxOutput);
    }
    return { input, maxOutput, outputs: Math.max(outputs, 1) };
  },
};
