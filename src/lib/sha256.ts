// SHA-256 of a string's UTF-8 bytes, synchronous, as lower-case hex.
//
// Why not crypto.subtle.digest: every proxied request digests the presented key, and the
// WebCrypto call costs two ArrayBuffers and a promise (an await on the hot path) per call.
// @noble/hashes (audited, dependency-free) computes a key's digest synchronously.
// test/keys/digest.test.ts checks it against crypto.subtle.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

// One encoder for the isolate: noble's utf8ToBytes builds a TextEncoder and copies the bytes
// on every call.
const encoder = new TextEncoder();

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(encoder.encode(text)));
}
