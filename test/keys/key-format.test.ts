import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_LENGTH, checksumOf, displayParts, generateKey, parseKey, RANDOM_LENGTH, redactedKey } from '../../src/keys/key-format';
import { BASE62 } from '../../src/lib/base62';
import { crc32 } from '../../src/lib/crc32';

const PREFIXES: ReadonlySet<string> = new Set(['kg_live', 'kg_test']);
const KEY_SHAPE = /^(kg_live|kg_test)_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

// Prefixes the format allows: lower-case words joined by '_'.
const word = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: min, maxLength: max });
const prefixArb = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), word(0, 15), fc.array(word(1, 16), { maxLength: 3 }))
  .map(([first, rest, words]) => [first + rest, ...words].join('_'));
const base62Arb = (length: number) => fc.string({ unit: fc.constantFrom(...BASE62), minLength: length, maxLength: length });
// Replacement characters: the key alphabet, the separator, and characters a paste can introduce.
const replacementArb = fc.oneof(fc.constantFrom(...BASE62, '_', '-', '.', ' ', '\n', '\t', '=', '/', '+', 'é', '０', '\u200b', '🔑'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

/** Every issued key: generated for one of the deployment's prefixes. */
const issuedKeyArb = fc.constantFrom(...PREFIXES).map((prefix) => generateKey(prefix).plaintext);

describe('key format', () => {
  it('computes the standard CRC-32 check value ("123456789" -> 0xCBF43926)', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    // UTF-8 bytes, not UTF-16 code units: "é" is C3 A9.
    expect(crc32('é')).toBe(crc32('\u00e9'));
    expect(crc32('é')).not.toBe(crc32('\u00c3\u00a9'));
  });

  it('generates keys shaped <prefix>_<32 base62 random><6 base62 checksum> that parse back', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PREFIXES), (prefix) => {
        const { plaintext, parsed } = generateKey(prefix);
        const m = KEY_SHAPE.exec(plaintext);
        expect(m).not.toBeNull();
        expect(m![1]).toBe(prefix);
        expect(parsed).toEqual({ prefix, random: m![2], checksum: m![3] });
        expect(parsed.random).toHaveLength(RANDOM_LENGTH);
        expect(parsed.checksum).toHaveLength(CHECKSUM_LENGTH);
        expect(parsed.checksum).toBe(checksumOf(`${prefix}_${parsed.random}`));
        expect(parseKey(plaintext, PREFIXES)).toEqual({ ok: true, key: parsed });
      }),
      { numRuns: 500 },
    );
  });

  it('generates a valid key for any prefix the format allows', () => {
    fc.assert(
      fc.property(prefixArb, (prefix) => {
        const { plaintext } = generateKey(prefix);
        expect(plaintext.startsWith(`${prefix}_`)).toBe(true);
        expect(plaintext.length).toBe(prefix.length + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH);
        expect(parseKey(plaintext, new Set([prefix])).ok).toBe(true);
      }),
    );
  });

  it('refuses to generate keys with a prefix outside the format', () => {
    for (const bad of ['', 'KG', 'kg-live', '_kg', 'kg_', '1kg', 'kg__live', 'a_b_c_d_e', 'a'.repeat(17)]) {
      expect(() => generateKey(bad), bad).toThrow(RangeError);
    }
  });

  it('never generates the same key twice', () => {
    const keys = new Set<string>();
    const randoms = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const { plaintext, parsed } = generateKey('kg_live');
      keys.add(plaintext);
      randoms.add(parsed.random);
    }
    expect(keys.size).toBe(5000);
    expect(randoms.size).toBe(5000);
  });

  it('uses every base62 character in the random part (no biased or missing symbols)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const ch of generateKey('kg_live').parsed.random) seen.add(ch);
    expect([...seen].sort().join('')).toBe([...BASE62].sort().join(''));
  });

  it('rejects a key with any single character changed, before any lookup', () => {
    fc.assert(
      fc.property(issuedKeyArb, fc.nat(), replacementArb, (key, pos, replacement) => {
        const i = pos % key.length;
        fc.pre(key[i] !== replacement);
        const typo = key.slice(0, i) + replacement + key.slice(i + 1);
        const result = parseKey(typo, PREFIXES);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects a key with a changed character as a checksum mismatch when it is still key-shaped', () => {
    fc.assert(
      fc.property(issuedKeyArb, fc.nat(), fc.constantFrom(...BASE62), (key, pos, replacement) => {
        // Positions in the random part and the checksum keep the key's shape.
        const start = key.lastIndexOf('_') + 1;
        const i = start + (pos % (key.length - start));
        fc.pre(key[i] !== replacement);
        const typo = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(parseKey(typo, PREFIXES)).toEqual({ ok: false, reason: 'bad_checksum' });
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a key with two adjacent characters swapped', () => {
    fc.assert(
      fc.property(issuedKeyArb, fc.nat(), (key, pos) => {
        const i = pos % (key.length - 1);
        fc.pre(key[i] !== key[i + 1]);
        const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
        expect(parseKey(swapped, PREFIXES).ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects a key with a character dropped, added or the whole key truncated', () => {
    fc.assert(
      fc.property(issuedKeyArb, fc.nat(), fc.constantFrom(...BASE62), (key, pos, extra) => {
        const i = pos % key.length;
        expect(parseKey(key.slice(0, i) + key.slice(i + 1), PREFIXES).ok).toBe(false);
        expect(parseKey(key.slice(0, i) + extra + key.slice(i), PREFIXES).ok).toBe(false);
        expect(parseKey(key.slice(0, i), PREFIXES).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects keys wrapped in whitespace or quotes rather than guessing', () => {
    const { plaintext } = generateKey('kg_live');
    for (const wrapped of [` ${plaintext}`, `${plaintext} `, `${plaintext}\n`, `"${plaintext}"`, `Bearer ${plaintext}`]) {
      expect(parseKey(wrapped, PREFIXES).ok, JSON.stringify(wrapped)).toBe(false);
    }
  });

  it('never throws on arbitrary strings and accepts only strings that are real keys', () => {
    const realKey = (s: string) => {
      const m = KEY_SHAPE.exec(s);
      return m !== null && checksumOf(`${m[1]}_${m[2]}`) === m[3];
    };
    const check = (s: string) => {
      const result = parseKey(s, PREFIXES);
      expect(result.ok).toBe(realKey(s));
      if (!result.ok) expect(['malformed', 'bad_checksum', 'unknown_prefix']).toContain(result.reason);
    };
    fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), check), { numRuns: 1000 });
    // Key-shaped strings with a random "checksum": accepted exactly when the checksum is right.
    fc.assert(
      fc.property(fc.constantFrom(...PREFIXES), base62Arb(RANDOM_LENGTH), base62Arb(CHECKSUM_LENGTH), (prefix, random, checksum) => {
        check(`${prefix}_${random}${checksum}`);
        check(`${prefix}_${random}${checksumOf(`${prefix}_${random}`)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a well-formed key whose prefix this deployment does not issue', () => {
    fc.assert(
      fc.property(prefixArb, (prefix) => {
        fc.pre(!PREFIXES.has(prefix));
        const { plaintext } = generateKey(prefix);
        expect(parseKey(plaintext, PREFIXES)).toEqual({ ok: false, reason: 'unknown_prefix' });
      }),
    );
    // A key for another environment of the same product is refused too.
    expect(parseKey(generateKey('kg_live').plaintext, new Set(['kg_test']))).toEqual({ ok: false, reason: 'unknown_prefix' });
  });

  it('refuses overlong input outright', () => {
    const { plaintext } = generateKey('kg_live');
    expect(parseKey(plaintext + 'A'.repeat(200), PREFIXES)).toEqual({ ok: false, reason: 'malformed' });
    expect(parseKey('x'.repeat(100_000), PREFIXES)).toEqual({ ok: false, reason: 'malformed' });
    expect(parseKey('', PREFIXES)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('shows only the prefix and the first and last 4 characters of the random part', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PREFIXES), (prefix) => {
        const { plaintext, parsed } = generateKey(prefix);
        const { start, end } = displayParts(parsed);
        expect(start).toBe(plaintext.slice(prefix.length + 1, prefix.length + 5));
        expect(end).toBe(plaintext.slice(prefix.length + 1 + RANDOM_LENGTH - 4, prefix.length + 1 + RANDOM_LENGTH));
        expect(end).toBe(parsed.random.slice(-4));
        const shown = redactedKey(prefix, start, end);
        expect(shown).toBe(`${prefix}_${start}…${end}`);
        // The redacted form never carries the middle of the key or its checksum.
        expect(shown).not.toContain(parsed.random.slice(4, -4));
        expect(shown).not.toContain(parsed.checksum);
      }),
    );
  });
});
