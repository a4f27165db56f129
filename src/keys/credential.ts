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

export function credentialHeaders(extra: readonly string[]): string[] {
  return [...new Set([...DEFAULT_KEY_HEADERS, ...extra])];
}

export function readCredential(headers: Headers, url: URL, extraHeaders: readonly string[], queryParam: string | undefined): Credential | null {
  for (const name of credentialHeaders(extraHeaders)) {
    const value = headers.get(name);
    if (value === null) continue;
    // Authorization carries a key only in the Bearer scheme.
    if (name === 'authorization' && !/^bearer\s/i.test(value.trim())) continue;
    const key = fromHeaderValue(value);
    if (key) return { key, source: name };
  }
  if (queryParam) {
    const key = url.searchParams.get(queryParam);
    if (key) return { key, source: `?${queryParam}` };
  }
  return null;
}
