// SHA-256 of a string's UTF-8 bytes, synchronous, as lower-case hex.
//
// Why not crypto.subtle.digest: on the gateway's hot path every request digests the presented
// key, and in workerd the WebCrypto call (two ArrayBuffers and a promise per call) measured
// ~20 µs of Worker CPU per request in `npm run bench` A/B runs. @noble/hashes (audited,
// dependency-free, widely used) computes it synchronously in about a microsecond for a key.
// test/keys/digest.test.ts checks it against crypto.subtle.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

// One encoder for the isolate: noble's utf8ToBytes builds a TextEncoder and copies the bytes
// on every call, which showed up in the profile of the hot path.
const encoder = new TextEncoder();

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(encoder.encode(text)));
}
