import { describe, expect, it } from 'vitest';
import { isRecord } from '../../src/usage/fields';
import { openAiChat } from '../../src/usage/formats/openai-chat';
import { SseParser } from '../../src/usage/sse';
import { bytes, openAiStream } from './fixtures';

function usageOfStream(text: string) {
  const parser = new SseParser();
  const reader = openAiChat.sse!();
  for (const event of [...parser.push(bytes(text)), ...parser.end()]) reader.onEvent(event);
  const r = reader.reading();
  return r.complete ? r.usage : null;
}

function openAiUsageFromJson(body: unknown) {
  return isRecord(body) && isRecord(body.usage) ? openAiChat.jsonUsage!(body.usage) : null;
}

describe('OpenAI usage', () => {
  it('reads prompt and completion tokens from a chat.completion body', () => {
    const body = {
      id: 'chatcmpl-1', object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29, prompt_tokens_details: { cached_tokens: 12 } },
    };
    expect(openAiUsageFromJson(body)).toEqual({ input: 19, output: 10 });
  });

  it('reads an embeddings body, which has prompt tokens only', () => {
    expect(openAiUsageFromJson({ object: 'list', data: [], usage: { prompt_tokens: 8, total_tokens: 8 } })).toEqual({ input: 8, output: 0 });
  });

  it('reports no usage for bodies without a well-formed usage object', () => {
    for (const body of [
      null, 'text', [], {}, { usage: null },
      { usage: { prompt_tokens: '5', completion_tokens: 1 } },
      { usage: { prompt_tokens: 5, completion_tokens: -1 } },
      { usage: { prompt_tokens: 1.5, completion_tokens: 1 } },
      { error: { message: 'Rate limit reached', type: 'requests' } },
    ]) {
      expect(openAiUsageFromJson(body)).toBeNull();
    }
  });

  it('reads the usage chunk at the end of a stream that asked for include_usage', () => {
    expect(usageOfStream(openAiStream({ promptTokens: 31, completionTokens: 7, includeUsage: true }))).toEqual({ input: 31, output: 7 });
  });

  it('reports no usage for a stream without include_usage', () => {
    expect(usageOfStream(openAiStream({ promptTokens: 31, completionTokens: 7, includeUsage: false }))).toBeNull();
  });

  it('takes the latest usage when a compatible server repeats cumulative usage on every chunk', () => {
    const chunk = (completion: number) =>
      `data: ${JSON.stringify({ choices: [{ delta: { content: 'x' } }], usage: { prompt_tokens: 4, completion_tokens: completion } })}\n\n`;
    expect(usageOfStream(`${chunk(1)}${chunk(2)}${chunk(3)}data: [DONE]\n\n`)).toEqual({ input: 4, output: 3 });
  });

  it('skips events that are not JSON and keeps a later usage chunk', () => {
    const usage = `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 5 } })}\n\n`;
    expect(usageOfStream(`data: {not json\n\ndata: 42\n\n${usage}data: [DONE]\n\n`)).toEqual({ input: 2, output: 5 });
  });
});
