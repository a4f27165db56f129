// The streaming reader of a JSON body's top-level `usage` agrees with JSON.parse on any
// document, however the bytes are chunked, and keeps no more than the field's value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopLevelField } from '../../src/usage/json-field';
import { bytes, splitAt } from './fixtures';

function scan(text: string, cuts: number[], field = 'usage', maxValueBytes?: number): unknown {
  const raw = bytes(text);
  const reader = new TopLevelField(field, maxValueBytes === undefined ? {} : { maxValueBytes });
  for (const chunk of splitAt(raw, cuts.map((c) => c % (raw.length + 1)))) reader.push(chunk);
  return reader.value();
}

const usageValue = fc.oneof(
  fc.record({ prompt_tokens: fc.nat(), completion_tokens: fc.nat() }),
  fc.jsonValue({ maxDepth: 3 }),
);

describe('reading the top-level usage of a streamed JSON body', () => {
  it('agrees with JSON.parse for any object, with or without usage, at any chunking', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
        fc.option(usageValue, { nil: undefined }),
        fc.nat({ max: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom(0, 2),
        (fields, usage, at, cuts, indent) => {
          const entries = Object.entries(fields).filter(([k]) => k !== 'usage');
          if (usage !== undefined) entries.splice(Math.min(at, entries.length), 0, ['usage', usage]);
          const text = JSON.stringify(Object.fromEntries(entries), null, indent);
          const expected = (JSON.parse(text) as Record<string, unknown>).usage;
          expect(scan(text, cuts)).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('takes the last of duplicate keys, and reads escaped key spellings, as JSON.parse does', () => {
    const text = '{"usage":{"a":1},"x":"\\"usage\\":{}","\\u0075sage":{"b":2}}';
    expect(scan(text, [])).toEqual((JSON.parse(text) as { usage: unknown }).usage);
    expect(scan(text, [])).toEqual({ b: 2 });
  });

  it('reads nothing from arrays, scalars, truncated documents or oversized values', () => {
    for (const text of ['[{"usage":1}]', '"usage"', '42', '{"usage":{"a":1}', '{"usage":{"a":1']) {
      expect(scan(text, [3]), text).toBeUndefined();
    }
    expect(scan(JSON.stringify({ usage: { pad: 'x'.repeat(100) } }), [7], 'usage', 64)).toBeUndefined();
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 10 }), (chunks) => {
        const reader = new TopLevelField('usage');
        for (const c of chunks) reader.push(c);
        reader.value();
      }),
      { numRuns: 500 },
    );
  });
});
