// Keys are stored and looked up only by their SHA-256 digest (lower-case hex).

import { sha256Hex } from '../lib/sha256';

/** Synchronous: the gateway's hot path digests every presented key (see lib/sha256.ts). */
export function digestKeySync(plaintext: string): string {
  return sha256Hex(plaintext);
}

/** The same digest, for callers written against the promise form (admin, key service). */
export async function digestKey(plaintext: string): Promise<string> {
  return sha256Hex(plaintext);
}
