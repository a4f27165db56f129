// Where a presented API key is read from: `Authorization: Bearer`, `x-api-key`, a route's
// extra header names, and (only when a route turns it on) one query parameter.

export const DEFAULT_KEY_HEADERS = ['authorization', 'x-api-key'] as const;

export interface Credential {
  key: string;
  /** Header name (lower-case) or `?param` for the query string. */
  source: string;
}

function fromHeaderValue(value: string): string {
  const v = value.trim();
  const m = /^bearer\s+(.+)$/i.exec(v);
  return (m ? (m[1] ?? '') : v).trim();
}

// Keyed by the route's array itself (parsed configuration lives as long as the isolate's
// config memo), so a lookup costs no string building; a WeakMap bounds itself.
const byExtra = new WeakMap<readonly string[], readonly string[]>();

/** Every header that may carry a key on a route (memoised per route). */
export function credentialHeaders(extra: readonly string[]): readonly string[] {
  if (extra.length === 0) return DEFAULT_KEY_HEADERS;
  let names = byExtra.get(extra);
  if (!names) {
    names = [...new Set([...DEFAULT_KEY_HEADERS, ...extra])];
    byExtra.set(extra, names);
  }
  return names;
}

const BEARER = /^\s*bearer\s/i;

/**
 * The key a header value would present, or '' when it presents none. Authorization carries
 * a key only in the Bearer scheme: `Basic` and other schemes belong to the upstream.
 */
export function keyInHeader(name: string, value: string): string {
  if (name === 'authorization' && !BEARER.test(value)) return '';
  return fromHeaderValue(value);
}

/** `url` is parsed only when the route accepts a key in the query string. */
export function readCredential(headers: Headers, url: string, extraHeaders: readonly string[], queryParam: string | undefined): Credential | null {
  for (const name of credentialHeaders(extraHeaders)) {
    const value = headers.get(name);
    if (value === null) continue;
    const key = keyInHeader(name, value);
    if (key) return { key, source: name };
  }
  if (queryParam) {
    const key = new URL(url).searchParams.get(queryParam);
    if (key) return { key, source: `?${queryParam}` };
  }
  return null;
}
