// Defensive readers for fields of upstream JSON: upstreams are outside our control, so a
// token count is only trusted when it is a non-negative safe integer.

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A token count, or null when the value is missing or not a non-negative safe integer. */
export function tokenCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** Parses JSON without throwing; malformed input is undefined. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
