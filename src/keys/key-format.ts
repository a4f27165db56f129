// API key format: `<prefix>_<random><checksum>`.
//   prefix    configurable, lower-case words joined by '_' (default `kg_live`)
//   random    RANDOM_LENGTH base62 characters from crypto.getRandomValues (~190 bits)
//   checksum  CRC32 of `<prefix>_<random>`, 6 base62 characters
// The checksum (the scheme GitHub tokens use) lets the gateway and secret scanners reject
// typos and garbage without any storage lookup.

import { BASE62, BASE62_RE, encodeBase62, randomBase62 } from '../lib/base62';
import { crc32 } from '../lib/crc32';

export const RANDOM_LENGTH = 32;
export const CHECKSUM_LENGTH = 6;
export const PREFIX_RE = /^[a-z][a-z0-9]{0,15}(?:_[a-z0-9]{1,16}){0,3}$/;
const MAX_KEY_LENGTH = 128;

export interface ParsedKey {
  prefix: string;
  random: string;
  checksum: string;
}

export type ParseFailure = 'malformed' | 'bad_checksum' | 'unknown_prefix';
export type ParseResult = { ok: true; key: ParsedKey } | { ok: false; reason: ParseFailure };

export function checksumOf(body: string): string {
  return encodeBase62(crc32(body), CHECKSUM_LENGTH);
}

export function generateKey(prefix: string): { plaintext: string; parsed: ParsedKey } {
  if (!PREFIX_RE.test(prefix)) throw new RangeError(`invalid key prefix: ${prefix}`);
  const random = randomBase62(RANDOM_LENGTH);
  const checksum = checksumOf(`${prefix}_${random}`);
  return { plaintext: `${prefix}_${random}${checksum}`, parsed: { prefix, random, checksum } };
}

/**
 * Parses and checksums a presented key. Pure and cheap: runs before any storage access.
 * `prefixes` is the set of prefixes this deployment issues; others are refused here.
 */
export function parseKey(input: string, prefixes: ReadonlySet<string>): ParseResult {
  const failure = checkKey(input, prefixes);
  if (failure !== null) return { ok: false, reason: failure };
  const cut = input.lastIndexOf('_');
  return { ok: true, key: { prefix: input.slice(0, cut), random: input.slice(cut + 1, -CHECKSUM_LENGTH), checksum: input.slice(-CHECKSUM_LENGTH) } };
}

/**
 * parseKey's checks without building the parts (the gateway needs only the verdict): the
 * checksum is computed over the key string in place and compared digit by digit.
 */
export function checkKey(input: string, prefixes: ReadonlySet<string>): ParseFailure | null {
  if (input.length === 0 || input.length > MAX_KEY_LENGTH) return 'malformed';
  const cut = input.lastIndexOf('_');
  if (cut <= 0) return 'malformed';
  const prefix = input.slice(0, cut);
  if (input.length - cut - 1 < RANDOM_LENGTH + CHECKSUM_LENGTH || !BASE62_RE.test(input.slice(cut + 1)) || !PREFIX_RE.test(prefix)) return 'malformed';
  // The checksum covers `<prefix>_<random>`: everything before the last CHECKSUM_LENGTH chars.
  const at = input.length - CHECKSUM_LENGTH;
  if (!checksumIs(crc32(input, 0, at), input, at)) return 'bad_checksum';
  if (!prefixes.has(prefix)) return 'unknown_prefix';
  return null;
}

const BASE62_CODES = Array.from(BASE62, (ch) => ch.charCodeAt(0));

/** `encodeBase62(crc, CHECKSUM_LENGTH) === input.slice(at)`, without building the string. */
function checksumIs(crc: number, input: string, at: number): boolean {
  let n = crc;
  for (let i = CHECKSUM_LENGTH - 1; i >= 0; i--) {
    if (input.charCodeAt(at + i) !== BASE62_CODES[n % 62]) return false;
    n = Math.floor(n / 62);
  }
  return n === 0;
}

/** The redacted form shown in lists and logs: prefix plus the first and last 4 random chars. */
export function displayParts(parsed: ParsedKey): { start: string; end: string } {
  return { start: parsed.random.slice(0, 4), end: parsed.random.slice(-4) };
}

export function redactedKey(prefix: string, start: string, end: string): string {
  return `${prefix}_${start}…${end}`;
}
