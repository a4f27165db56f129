// Keys are looked up by SHA-256 digest; the synchronous digest must be the real SHA-256.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestKey } from '../../src/keys/digest';
import { generateKey } from '../../src/keys/key-format';

async function webCryptoHex(text: string): Promise<string> {
  const buf = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

describe('key digests', () => {
  it('match the published SHA-256 test vectors', () => {
    expect(digestKey('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(digestKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(digestKey('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('equal WebCrypto SHA-256 for generated keys and for arbitrary strings', async () => {
    for (let i = 0; i < 50; i++) {
      const { plaintext } = generateKey('kg_live');
      expect(digestKey(plaintext)).toBe(await webCryptoHex(plaintext));
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => {
        expect(digestKey(s)).toBe(await webCryptoHex(s));
        expect(digestKey(s)).toBe(digestKey(s));
      }),
      { numRuns: 300 },
    );
  });

  it('equal WebCrypto at every length around the one-block boundary (55/56 bytes), ASCII or not', async () => {
    for (let n = 0; n <= 130; n++) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7 + n) % 95))).join('');
      expect(digestKey(ascii), `ascii length ${n}`).toBe(await webCryptoHex(ascii));
      const accented = `${ascii.slice(0, Math.max(0, n - 1))}é`;
      expect(digestKey(accented), `non-ascii length ${n}`).toBe(await webCryptoHex(accented));
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme-ascii', maxLength: 60 }), async (s) => {
        expect(digestKey(s)).toBe(await webCryptoHex(s));
      }),
      { numRuns: 300 },
    );
  });
});
