import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseEventTooLargeError, SseParser, type SseEvent } from '../../src/usage/sse';
import { anthropicStream, bytes, openAiStream, splitAt, withLineEnding } from './fixtures';

function parseChunks(chunks: readonly Uint8Array[]): SseEvent[] {
  const parser = new SseParser();
  const events = chunks.flatMap((c) => parser.push(c));
  return [...events, ...parser.end()];
}
const parseText = (text: string) => parseChunks([bytes(text)]);

describe('SSE parser', () => {
  it('dispatches one event per blank line with its event name and data', () => {
    expect(parseText('event: ping\ndata: {"a":1}\n\ndata: plain\n\n')).toEqual([
      { event: 'ping', data: '{"a":1}' },
      { event: 'message', data: 'plain' },
    ]);
  });

  it('joins multi-line data with newlines', () => {
    expect(parseText('data: first\ndata:second\ndata\n\n')).toEqual([{ event: 'message', data: 'first\nsecond\n' }]);
  });

  it('accepts LF, CRLF and CR line endings, even mixed in one stream', () => {
    expect(parseText('data: a\r\n\r\ndata: b\r\rdata: c\n\nevent: e\r\ndata: d\r\n\n')).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
      { event: 'message', data: 'c' },
      { event: 'e', data: 'd' },
    ]);
  });

  it('treats a CRLF split across two chunks as one line end', () => {
    // Read as two line ends, the split would end the event early: 'a' and 'b' apart, event name lost.
    expect(parseChunks([bytes('event: e\r'), bytes('\ndata: a\r'), bytes('\ndata: b\r\n\r\n')])).toEqual([
      { event: 'e', data: 'a\nb' },
    ]);
  });

  it('ignores comments, id, retry and unknown fields, and events without data', () => {
    expect(parseText(': keep-alive\n\nid: 7\nretry: 10\nfoo: bar\ndata: x\n\nevent: lonely\n\ndata: y\n\n')).toEqual([
      { event: 'message', data: 'x' },
      { event: 'message', data: 'y' },
    ]);
  });

  it('removes only one space after the colon', () => {
    expect(parseText('data:  two spaces\n\n')).toEqual([{ event: 'message', data: ' two spaces' }]);
  });

  it('keeps a multi-byte character split between chunks intact', () => {
    const raw = bytes('data: 🌍世\n\n');
    // Cut inside the 4-byte emoji and inside the 3-byte CJK character.
    expect(parseChunks(splitAt(raw, [7, 8, 9, 11, 12]))).toEqual([{ event: 'message', data: '🌍世' }]);
  });

  it('drops a leading byte order mark', () => {
    expect(parseChunks([new Uint8Array([0xef, 0xbb]), new Uint8Array([0xbf]), bytes('data: a\n\n')])).toEqual([
      { event: 'message', data: 'a' },
    ]);
  });

  it('does not dispatch an event the stream ended before closing', () => {
    expect(parseText('data: done\n\ndata: cut off')).toEqual([{ event: 'message', data: 'done' }]);
    expect(parseText('data: cut off\n')).toEqual([]);
  });

  it('refuses to buffer an event beyond its bound', () => {
    const parser = new SseParser({ maxEventChars: 100 });
    expect(parser.push(bytes(`data: ${'x'.repeat(50)}\n`))).toEqual([]);
    expect(() => parser.push(bytes('x'.repeat(60)))).toThrow(SseEventTooLargeError);
  });

  it('in skip mode, drops an event beyond its bound and reads the events after it, at any chunking', () => {
    const text = `data: a\n\nevent: big\ndata: ${'x'.repeat(300)}\ndata: more\n\ndata: b\n\n`;
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 10 }), (cuts) => {
        const raw = bytes(text);
        const parser = new SseParser({ maxEventChars: 100, oversized: 'skip' });
        const events: SseEvent[] = [];
        for (const chunk of splitAt(raw, cuts.map((c) => c % (raw.length + 1)))) events.push(...parser.push(chunk));
        events.push(...parser.end());
        expect(events).toEqual([{ event: 'message', data: 'a' }, { event: 'message', data: 'b' }]);
      }),
      { numRuns: 300 },
    );
  });

  it('splitting a CRLF stream in two at every byte position yields the same events', () => {
    const text = anthropicStream({ inputTokens: 12, outputTokens: 3, deltas: 3 });
    const expected = parseChunks([bytes(text)]);
    const raw = bytes(withLineEnding(text, '\r\n'));
    for (let p = 0; p <= raw.length; p++) expect(parseChunks(splitAt(raw, [p])), `split at byte ${p}`).toEqual(expected);
  });

  it('any chunking of a real stream yields the same events, whatever the line endings', () => {
    const fixtures = [
      openAiStream({ promptTokens: 9, completionTokens: 5, includeUsage: true, keepAlive: true }),
      anthropicStream({ inputTokens: 12, outputTokens: 6, deltas: 6 }),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.constantFrom<'\n' | '\r\n' | '\r'>('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 40 }),
        (fixture, ending, cuts) => {
          const raw = bytes(withLineEnding(fixture, ending));
          const expected = parseChunks([bytes(fixture)]);
          expect(expected.length).toBeGreaterThan(5);
          expect(parseChunks(splitAt(raw, cuts.map((c) => c % (raw.length + 1))))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
