// SHA-256 of a string's UTF-8 bytes, synchronous, as lower-case hex.
//
// Why not crypto.subtle.digest: on the gateway's hot path every request digests the presented
// key, and in workerd the WebCrypto call (two ArrayBuffers and a promise per call) measured
// ~20 µs of Worker CPU per request in `npm run bench` A/B runs.
//
// Every well-formed key is short ASCII (prefix + 38 characters: well under the 55 bytes that
// fit one SHA-256 block), so that case is computed here, FIPS 180-4 for a single padded block,
// in preallocated state: no buffer, view or hasher object per call. Everything else (long or
// non-ASCII input) goes to @noble/hashes (audited, dependency-free). test/keys/digest.test.ts
// checks both paths against crypto.subtle for every length around the block boundary.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const encoder = new TextEncoder();

// FIPS 180-4 §4.2.2 round constants and §5.3.3 initial hash value.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

// The message schedule, reused: each call overwrites all 64 words before reading them.
const W = new Uint32Array(64);
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

function wordHex(x: number): string {
  return (HEX[x >>> 24] as string) + HEX[(x >>> 16) & 0xff] + HEX[(x >>> 8) & 0xff] + HEX[x & 0xff];
}

/** One-block SHA-256 of an ASCII string of at most 55 characters; null for anything else. */
function shortAsciiSha256Hex(text: string): string | null {
  const n = text.length;
  if (n > 55) return null;
  W.fill(0, 0, 16);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return null;
    W[i >> 2] = (W[i >> 2] as number) | (c << (24 - 8 * (i & 3)));
  }
  // Padding: a 1 bit after the message, zeros, then the bit length in the last word.
  W[n >> 2] = (W[n >> 2] as number) | (0x80 << (24 - 8 * (n & 3)));
  W[15] = n * 8;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15] as number;
    const w2 = W[i - 2] as number;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0;
  }
  let a = IV[0] as number;
  let b = IV[1] as number;
  let c = IV[2] as number;
  let d = IV[3] as number;
  let e = IV[4] as number;
  let f = IV[5] as number;
  let g = IV[6] as number;
  let h = IV[7] as number;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + (K[i] as number) + (W[i] as number)) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  return (
    wordHex(((IV[0] as number) + a) >>> 0) +
    wordHex(((IV[1] as number) + b) >>> 0) +
    wordHex(((IV[2] as number) + c) >>> 0) +
    wordHex(((IV[3] as number) + d) >>> 0) +
    wordHex(((IV[4] as number) + e) >>> 0) +
    wordHex(((IV[5] as number) + f) >>> 0) +
    wordHex(((IV[6] as number) + g) >>> 0) +
    wordHex(((IV[7] as number) + h) >>> 0)
  );
}

export function sha256Hex(text: string): string {
  return shortAsciiSha256Hex(text) ?? bytesToHex(sha256(encoder.encode(text)));
}
