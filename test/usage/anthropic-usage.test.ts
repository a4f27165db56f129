import { describe, expect, it } from 'vitest';
import { isRecord } from '../../src/usage/fields';
import { anthropicMessages } from '../../src/usage/formats/anthropic-messages';
import { SseParser } from '../../src/usage/sse';
import { anthropicStream, bytes } from './fixtures';

function readStream(text: string) {
  const parser = new SseParser();
  const reader = anthropicMessages.sse!();
  for (const event of [...parser.push(bytes(text)), ...parser.end()]) reader.onEvent(event);
  return reader.reading();
}

/** The final usage of a stream, or null when its message_delta never came. */
function usageOfStream(text: string) {
  const r = readStream(text);
  return r.complete ? r.usage : null;
}

function anthropicUsageFromJson(body: unknown) {
  return isRecord(body) && isRecord(body.usage) ? anthropicMessages.jsonUsage!(body.usage) : null;
}

const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const messageStart = (usage: object) =>
  event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], usage } });
const textDelta = (text: string) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
const messageDelta = (usage: object) => event('message_delta', { delta: { stop_reason: 'end_turn' }, usage });

describe('Anthropic usage', () => {
  it('reads input and output tokens from a message body', () => {
    const body = {
      id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn', usage: { input_tokens: 25, output_tokens: 13 },
    };
    expect(anthropicUsageFromJson(body)).toEqual({ input: 25, output: 13 });
  });

  it('counts prompt-cache reads and writes as input', () => {
    const usage = { input_tokens: 3, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 9 };
    expect(anthropicUsageFromJson({ type: 'message', usage })).toEqual({ input: 2103, output: 9 });
    expect(anthropicUsageFromJson({ type: 'message', usage: { ...usage, cache_read_input_tokens: null } })).toEqual({ input: 103, output: 9 });
  });

  it('reports no usage for error bodies and malformed usage', () => {
    for (const body of [
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      { usage: { input_tokens: 5 } },
      { usage: { input_tokens: 5, output_tokens: '9' } },
      { usage: [] },
      undefined,
    ]) {
      expect(anthropicUsageFromJson(body)).toBeNull();
    }
  });

  it('reads a stream: input from message_start, output from message_delta', () => {
    expect(usageOfStream(anthropicStream({ inputTokens: 472, outputTokens: 6, deltas: 6, cacheReadTokens: 10 }))).toEqual({
      input: 482,
      output: 6,
    });
  });

  it('takes the latest message_delta output count because it is cumulative, not a sum', () => {
    const text = `${messageStart({ input_tokens: 10, output_tokens: 1 })}${textDelta('a')}${messageDelta({ output_tokens: 5 })}${textDelta('b')}${messageDelta({ output_tokens: 12 })}${event('message_stop', {})}`;
    expect(usageOfStream(text)).toEqual({ input: 10, output: 12 });
  });

  it('lets message_delta update the input counts it carries', () => {
    const text = `${messageStart({ input_tokens: 10, cache_read_input_tokens: 0, output_tokens: 1 })}${messageDelta({ input_tokens: 14, cache_read_input_tokens: 6, output_tokens: 3 })}`;
    expect(usageOfStream(text)).toEqual({ input: 20, output: 3 });
  });

  it('keeps the input and estimates the streamed output when the stream stops before message_delta', () => {
    const start = messageStart({ input_tokens: 40, output_tokens: 1 });
    // Five short deltas: one token per delta beats ceil(chars / 4).
    expect(readStream(start + ['Hi', ' a', ' b', ' c', ' d'].map(textDelta).join(''))).toEqual({ usage: { input: 40, output: 1 }, complete: false, streamed: 5 });
    // One long delta: ceil(chars / 4) beats one per delta.
    expect(readStream(start + textDelta('x'.repeat(401)))).toEqual({ usage: { input: 40, output: 1 }, complete: false, streamed: 101 });
    // Nothing streamed yet: message_start's own output count.
    expect(readStream(start)).toEqual({ usage: { input: 40, output: 1 }, complete: false, streamed: 0 });
  });

  it('reports no usage for a stream that never reported any', () => {
    expect(usageOfStream(`${event('ping', {})}${textDelta('hello')}data: [DONE]\n\n`)).toBeNull();
    expect(usageOfStream(event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }))).toBeNull();
  });

  it('ignores malformed events and keeps the well-formed ones', () => {
    const text = `${messageStart({ input_tokens: 7, output_tokens: 1 })}event: message_delta\ndata: {"type":"message_delta","usage":\n\n${messageDelta({ output_tokens: 'many' })}${messageDelta({ output_tokens: 4 })}`;
    expect(usageOfStream(text)).toEqual({ input: 7, output: 4 });
  });
});
