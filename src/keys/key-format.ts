// API key format: `<prefix>_<random><checksum>`.
//   prefix    configurable, lower-case words joined by '_' (default `kg_live`)
//   random    RANDOM_LENGTH base62 characters from crypto.getRandomValues (~190 bits)
//   checksum  CRC32 of `<prefix>_<random>`, 6 base62 characters
// The checksum (the scheme GitHub tokens use) lets the gateway and secret scanners reject
// typos and garbage without any storage lookup.

import { BASE62_RE, encodeBase62, randomBase62 } from '../lib/base62';
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

export type ParseResult = { ok: true; key: ParsedKey } | { ok: false; reason: 'malformed' | 'bad_checksum' | 'unknown_prefix' };

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
  if (input.length === 0 || input.length > MAX_KEY_LENGTH) return { ok: false, reason: 'malformed' };
  const cut = input.lastIndexOf('_');
  if (cut <= 0) return { ok: false, reason: 'malformed' };
  const prefix = input.slice(0, cut);
  const body = input.slice(cut + 1);
  if (body.length < RANDOM_LENGTH + CHECKSUM_LENGTH || !BASE62_RE.test(body) || !PREFIX_RE.test(prefix)) {
    return { ok: false, reason: 'malformed' };
  }
  const random = body.slice(0, -CHECKSUM_LENGTH);
  const checksum = body.slice(-CHECKSUM_LENGTH);
  if (checksumOf(`${prefix}_${random}`) !== checksum) return { ok: false, reason: 'bad_checksum' };
  if (!prefixes.has(prefix)) return { ok: false, reason: 'unknown_prefix' };
  return { ok: true, key: { prefix, random, checksum } };
}

/** The redacted form shown in lists and logs: prefix plus the first and last 4 random chars. */
export function displayParts(parsed: ParsedKey): { start: string; end: string } {
  return { start: parsed.random.slice(0, 4), end: parsed.random.slice(-4) };
}

export function redactedKey(prefix: string, start: string, end: string): string {
  return `${prefix}_${start}…${end}`;
}
