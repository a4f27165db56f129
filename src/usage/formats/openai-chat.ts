// OpenAI Chat Completions (`POST /v1/chat/completions`), and servers compatible with it.
// Request: messages, max_completion_tokens / max_tokens, n, stream. Usage: `usage` of the
// chat.completion, or of the last chunk of a stream (only sent when include_usage is set).
import { costOf, inputTokens, maxOf, outputsOf, textChars } from '../estimate';
import type { UsageFormat } from '../types';
import { askForStreamUsage, choicesStreamReader, promptCompletionUsage } from './openai-shared';

export const openAiChat: UsageFormat = {
  name: 'openai-chat',
  endpoints: [{ methods: ['POST'], path: '/**/chat/completions' }],
  cost(body) {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    return costOf(inputTokens(textChars(messages), messages.length), maxOf(body, ['max_completion_tokens', 'max_tokens']), outputsOf(body));
  },
  prepare: askForStreamUsage,
  jsonUsage: promptCompletionUsage,
  sse: choicesStreamReader,
};
