// Defensive readers for JSON from clients and upstreams, and the one clamp every token count
// passes through. Upstreams are outside our control: a reported count is only trusted when it
// is a non-negative integer, and no count (reported, requested or estimated) may exceed
// MAX_TOKENS, so a hostile upstream or client can neither refund below zero nor push a
// counter or a micro-USD cost past a safe integer.

/** The most tokens one request is ever charged or reserved: 1e9 x any price stays a safe integer. */
export const MAX_TOKENS = 1_000_000_000;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Clamps any number of tokens into [0, MAX_TOKENS]; NaN reads as 0. */
export function clampTokens(n: number): number {
  if (!(n > 0)) return 0;
  return n >= MAX_TOKENS ? MAX_TOKENS : Math.ceil(n);
}

/**
 * A token count an upstream reported, or null when the value is missing or not a
 * non-negative integer (negative, fractional, a string, NaN): such usage is unreadable and
 * the request keeps its full reservation. A huge count is clamped, not trusted further.
 */
export function tokenCount(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return null;
  return clampTokens(value);
}

/**
 * A count a client asked for (max_tokens, n), read the way a lax upstream validator would:
 * a positive number, or a string holding one ("512"). Null when absent or unusable.
 */
export function requestedCount(value: unknown): number | null {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\+?\d+(?:\.\d*)?\s*$/.test(value)) n = Number(value);
  else return null;
  return Number.isFinite(n) && n > 0 ? clampTokens(n) : n === Infinity ? MAX_TOKENS : null;
}

/** Parses JSON without throwing; malformed input is undefined. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Unicode code points in a string. */
export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}
