// Keys are stored and looked up only by their SHA-256 digest (lower-case hex). Synchronous:
// the gateway's hot path digests every presented key (see lib/sha256.ts).

import { sha256Hex } from '../lib/sha256';

export function digestKey(plaintext: string): string {
  return sha256Hex(plaintext);
}
