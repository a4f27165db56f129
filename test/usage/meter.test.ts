import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TokenUsage } from '../../src/usage/types';
import {
  JSON_TYPE, SSE, anthropicStream, bytes, concat, finalUsage, meter, meterChunks, openAiStream, splitAt, withLineEnding,
} from './fixtures';

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** A body that delivers the chunks and then stalls, like an upstream still generating. */
function stalledBody(chunks: readonly Uint8Array[]) {
  let cancelReason: unknown = 'not cancelled';
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
    },
    cancel(reason) {
      cancelReason = reason;
    },
  });
  return { stream, cancelReason: () => cancelReason };
}

/** Reads n chunks as a client would, then disconnects. */
async function readThenCancel(stream: ReadableStream<Uint8Array>, n: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const got: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const { done, value } = await reader.read();
    if (done) throw new Error('stream ended early');
    got.push(value);
  }
  await reader.cancel('client went away');
  return concat(got);
}

/** The SSE fixture cut into one chunk per event, so a test can stop between events. */
function eventChunks(text: string): Uint8Array[] {
  return text.split(/(?<=\n\n)/).map(bytes);
}

interface Case {
  name: string;
  format: 'openai' | 'anthropic';
  text: string;
  usage: TokenUsage | null;
}
const streamCases: Case[] = [
  { name: 'OpenAI with include_usage', format: 'openai', text: openAiStream({ promptTokens: 57, completionTokens: 9, includeUsage: true, keepAlive: true }), usage: { input: 57, output: 9 } },
  { name: 'OpenAI without include_usage', format: 'openai', text: openAiStream({ promptTokens: 57, completionTokens: 9, includeUsage: false }), usage: null },
  { name: 'Anthropic', format: 'anthropic', text: anthropicStream({ inputTokens: 1200, outputTokens: 11, cacheReadTokens: 300, deltas: 11 }), usage: { input: 1500, output: 11 } },
];

describe('meterResponse with SSE', () => {
  for (const c of streamCases) {
    it(`any chunking of an ${c.name} stream yields the same usage and the same bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<'\n' | '\r\n' | '\r'>('\n', '\r\n', '\r'),
          fc.array(fc.nat(), { maxLength: 60 }),
          async (ending, cuts) => {
            const raw = bytes(withLineEnding(c.text, ending));
            const chunks = splitAt(raw, cuts.map((x) => x % (raw.length + 1)));
            const { received, usage } = await meterChunks(chunks, { format: c.format, contentType: SSE });
            expect(received).toEqual(raw);
            expect(usage).toEqual(c.usage);
          },
        ),
        { numRuns: 150 },
      );
    });

    it(`splitting an ${c.name} stream in two at every byte position yields the same usage`, async () => {
      const raw = bytes(c.text);
      for (let p = 0; p <= raw.length; p++) {
        const { received, usage } = await meterChunks(splitAt(raw, [p]), { format: c.format, contentType: SSE });
        expect(received.length).toBe(raw.length);
        expect(usage, `split at byte ${p}`).toEqual(c.usage);
      }
    });

    it(`an ${c.name} stream delivered one byte at a time yields the same usage`, async () => {
      const raw = bytes(c.text);
      const oneByteChunks = Array.from(raw, (_, i) => raw.slice(i, i + 1));
      const { received, usage } = await meterChunks(oneByteChunks, { format: c.format, contentType: SSE });
      expect(received).toEqual(raw);
      expect(usage).toEqual(c.usage);
    });
  }

  it('passes each chunk to the client before the upstream has sent the next one', async () => {
    let upstream!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (upstream = c) });
    const metered = meter(body, { format: 'openai', contentType: SSE });
    const reader = metered.stream.getReader();
    upstream.enqueue(bytes('data: {"choices":[]}\n\n'));
    expect(decode((await reader.read()).value ?? new Uint8Array())).toBe('data: {"choices":[]}\n\n');
    upstream.enqueue(bytes('data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n'));
    expect(decode((await reader.read()).value ?? new Uint8Array())).toContain('"usage"');
    upstream.close();
    expect((await reader.read()).done).toBe(true);
    expect(finalUsage(await metered.reading)).toEqual({ input: 1, output: 2 });
  });

  it('a client cancel mid-way through an Anthropic stream resolves with the input, not complete, and the output streamed so far', async () => {
    const events = eventChunks(anthropicStream({ inputTokens: 80, outputTokens: 16, deltas: 16 }));
    // message_start, content_block_start, ping and 5 text deltas arrive; then the client leaves.
    const upstream = stalledBody(events.slice(0, 8));
    const metered = meter(upstream.stream, { format: 'anthropic', contentType: SSE });
    const got = await readThenCancel(metered.stream, 8);
    expect(decode(got)).toBe(events.slice(0, 8).map(decode).join(''));
    // 'Héllo', ' wörld', ' 世界', ' 🌍', ' ok' = 19 characters: the larger of 5 deltas and ceil(19 / 4).
    expect(await metered.reading).toEqual({ usage: { input: 80, output: 1 }, complete: false, streamed: 5 });
    expect(upstream.cancelReason()).not.toBe('not cancelled');
  });

  it('a client cancel before the OpenAI usage chunk resolves with no usage and the text streamed so far', async () => {
    const events = eventChunks(openAiStream({ promptTokens: 10, completionTokens: 6, includeUsage: true }));
    const upstream = stalledBody(events.slice(0, 4));
    const metered = meter(upstream.stream, { format: 'openai', contentType: SSE });
    await readThenCancel(metered.stream, 4);
    // The role chunk, then 'Héllo', ' wörld', ' 世界': three deltas of 14 characters.
    expect(await metered.reading).toEqual({ usage: null, complete: false, streamed: 4 });
    expect(upstream.cancelReason()).not.toBe('not cancelled');
  });

  it('a client cancel after the OpenAI usage chunk but before [DONE] keeps the usage', async () => {
    const events = eventChunks(openAiStream({ promptTokens: 10, completionTokens: 6, includeUsage: true }));
    const beforeDone = events.length - 1;
    const upstream = stalledBody(events.slice(0, beforeDone));
    const metered = meter(upstream.stream, { format: 'openai', contentType: SSE });
    await readThenCancel(metered.stream, beforeDone);
    expect(finalUsage(await metered.reading)).toEqual({ input: 10, output: 6 });
  });

  it('an upstream failure mid-stream errors the client stream and resolves with the usage seen so far', async () => {
    const events = eventChunks(anthropicStream({ inputTokens: 33, outputTokens: 9, deltas: 9 }));
    let upstream!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (upstream = c) });
    const metered = meter(body, { format: 'anthropic', contentType: SSE });
    const reader = metered.stream.getReader();
    for (const e of events.slice(0, 6)) {
      upstream.enqueue(e);
      await reader.read();
    }
    upstream.error(new Error('connection reset'));
    await expect(reader.read()).rejects.toThrow('connection reset');
    // Three deltas arrived: 'Héllo', ' wörld', ' 世界' = 14 characters, ceil(14 / 4) = 4 tokens.
    expect(await metered.reading).toEqual({ usage: { input: 33, output: 1 }, complete: false, streamed: 4 });
  });

  it('malformed events mean no usage, and the bytes still reach the client intact', async () => {
    const raw = bytes('data: {"usage": {"prompt_tokens": 3,\n\ndata: usage\n\n: comment\n\ndata: [DONE]\n\n');
    const { received, usage } = await meterChunks(splitAt(raw, [5, 17]), { format: 'openai', contentType: SSE });
    expect(received).toEqual(raw);
    expect(usage).toBeNull();
  });

  it('an event too large to parse is skipped, and the usage after it is still read', async () => {
    const before = eventChunks(anthropicStream({ inputTokens: 21, outputTokens: 4, deltas: 4 }));
    // One event of 1.2 MB arriving in pieces: the parser will not buffer it past 1 MiB.
    const huge = bytes(`event: content_block_delta\ndata: ${'x'.repeat(1200 * 1000)}\n\n`);
    const chunks = [...before.slice(0, 3), ...splitAt(huge, [500_000, 1_100_000]), ...before.slice(3)];
    const { received, reading } = await meterChunks(chunks, { format: 'anthropic', contentType: SSE });
    expect(received).toEqual(concat(chunks));
    // The events around the oversized one, message_delta included, are read.
    expect(reading).toEqual({ usage: { input: 21, output: 4 }, complete: true, streamed: 4 });
  });

  it('arbitrary bytes never break the stream or the usage promise', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
        fc.constantFrom<'openai' | 'anthropic'>('openai', 'anthropic'),
        fc.constantFrom(SSE, JSON_TYPE, null),
        async (chunks, format, contentType) => {
          const { received, usage } = await meterChunks(chunks, { format, contentType });
          expect(received).toEqual(concat(chunks));
          if (usage !== null) {
            expect(Number.isSafeInteger(usage.input) && Number.isSafeInteger(usage.output)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('meterResponse with JSON', () => {
  const openAiBody = JSON.stringify({
    id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-x',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Grüße 🌍' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
  });
  const anthropicBody = JSON.stringify({
    id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'こんにちは' }],
    usage: { input_tokens: 30, output_tokens: 8 },
  });

  it('any chunking of an OpenAI JSON body yields the same usage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 20 }), async (cuts) => {
        const raw = bytes(openAiBody);
        const { received, usage } = await meterChunks(splitAt(raw, cuts.map((x) => x % raw.length)), { format: 'openai', contentType: 'application/json' });
        expect(received).toEqual(raw);
        expect(usage).toEqual({ input: 12, output: 4 });
      }),
      { numRuns: 100 },
    );
  });

  it('any chunking of an Anthropic JSON body yields the same usage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 20 }), async (cuts) => {
        const raw = bytes(anthropicBody);
        const { usage } = await meterChunks(splitAt(raw, cuts.map((x) => x % raw.length)), { format: 'anthropic', contentType: 'application/json; charset=utf-8' });
        expect(usage).toEqual({ input: 30, output: 8 });
      }),
      { numRuns: 100 },
    );
  });

  it('reads a body without a content type as JSON', async () => {
    expect((await meterChunks([bytes(anthropicBody)], { format: 'anthropic', contentType: null })).usage).toEqual({ input: 30, output: 8 });
  });

  it('reads the usage at the end of a JSON body larger than 1 MiB without buffering it', async () => {
    // n and logprobs make bodies this large; the usage object comes last.
    const choices = Array.from({ length: 400 }, (_, index) => ({ index, message: { role: 'assistant', content: 'ok "quoted" \\ {not: json} '.repeat(100) }, logprobs: { content: [] } }));
    const raw = bytes(JSON.stringify({ id: 'chatcmpl-big', object: 'chat.completion', choices, usage: { prompt_tokens: 10, completion_tokens: 256_000, total_tokens: 256_010 } }));
    expect(raw.length).toBeGreaterThan(1024 * 1024);
    const { received, usage } = await meterChunks(splitAt(raw, [1, 65_536, 700_001, raw.length - 40, raw.length - 3]), { format: 'openai', contentType: JSON_TYPE });
    expect(received).toEqual(raw);
    expect(usage).toEqual({ input: 10, output: 256_000 });
  });

  it('reads only the top-level usage: nested or quoted "usage" keys do not count', async () => {
    const body = JSON.stringify({ choices: [{ message: { content: '"usage": {"prompt_tokens": 1, "completion_tokens": 1}', usage: { prompt_tokens: 2, completion_tokens: 2 } } }], usage: { prompt_tokens: 70, completion_tokens: 30 }, tail: { usage: 1 } });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 30 }), async (cuts) => {
        const raw = bytes(body);
        expect((await meterChunks(splitAt(raw, cuts.map((x) => x % raw.length)), { format: 'openai', contentType: JSON_TYPE })).usage).toEqual({ input: 70, output: 30 });
      }),
      { numRuns: 100 },
    );
  });

  it('a truncated or non-JSON body means no usage, and the bytes still reach the client', async () => {
    for (const text of [openAiBody.slice(0, -1), '<html>502 Bad Gateway</html>', '']) {
      const raw = bytes(text);
      const { received, usage } = await meterChunks([raw], { format: 'openai', contentType: JSON_TYPE });
      expect(received).toEqual(raw);
      expect(usage).toBeNull();
    }
  });

  it('a client cancel before the JSON body is complete resolves with no usage', async () => {
    const raw = bytes(openAiBody);
    const upstream = stalledBody(splitAt(raw, [20]).slice(0, 1));
    const metered = meter(upstream.stream, { format: 'openai', contentType: JSON_TYPE });
    await readThenCancel(metered.stream, 1);
    expect(await metered.reading).toEqual({ usage: null, complete: false, streamed: 0 });
  });

  it('does not read a JSON content type as SSE, nor SSE as JSON', async () => {
    const sse = bytes(openAiStream({ promptTokens: 5, completionTokens: 2, includeUsage: true }));
    expect((await meterChunks([sse], { format: 'openai', contentType: JSON_TYPE })).usage).toBeNull();
    expect((await meterChunks([bytes(openAiBody)], { format: 'openai', contentType: 'Text/Event-Stream' })).usage).toBeNull();
    expect((await meterChunks([sse], { format: 'openai', contentType: 'Text/Event-Stream' })).usage).toEqual({ input: 5, output: 2 });
  });
});
