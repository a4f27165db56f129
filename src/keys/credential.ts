// Where a presented API key is read from: `Authorization: Bearer`, `x-api-key`, a route's
// extra header names, and (only when a route turns it on) one query parameter.

export const DEFAULT_KEY_HEADERS = ['authorization', 'x-api-key'] as const;

export interface Credential {
  /** The key, or for a signed request the JWT. */
  key: string;
  /** Header name (lower-case) or `?param` for the query string. */
  source: string;
  /** `Authorization: JWT <token>`: a signed request (src/signing/signed-request.ts). */
  signed?: true;
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
const SIGNED = /^\s*jwt\s+(\S+)\s*$/i;

/**
 * The key a header value would present, or '' when it presents none. Authorization carries
 * a key in the Bearer scheme and a signed request's token in the JWT scheme: `Basic` and
 * other schemes belong to the upstream.
 */
export function keyInHeader(name: string, value: string): string {
  if (name === 'authorization' && !BEARER.test(value)) return SIGNED.exec(value)?.[1] ?? '';
  return fromHeaderValue(value);
}

// The shape of a keygate key (prefix, `_`, 38 base62 characters), checked without the
// configured prefixes: enough to tell a keygate key from the upstream's own credential.
const KEY_SHAPE = /^[a-z][a-z0-9]{0,15}(?:_[a-z0-9]{1,16}){0,3}_[0-9A-Za-z]{38}$/;

/**
 * `url` is parsed only when the route accepts a key in the query string. When several
 * headers present a value, the first that has a keygate key's shape wins, so a client can
 * send its key in `x-api-key` and its own `Authorization: Bearer` (or `JWT`) for the
 * upstream; with none of that shape, `Authorization: JWT` is a signed request, else the first
 * value is the (invalid) key.
 */
export function readCredential(headers: Headers, url: string, extraHeaders: readonly string[], queryParam: string | undefined): Credential | null {
  let fallback: Credential | null = null;
  // `Authorization: JWT` is a signed request unless another header presents a keygate key.
  let signed: Credential | null = null;
  for (const name of credentialHeaders(extraHeaders)) {
    const value = headers.get(name);
    if (value === null) continue;
    const key = keyInHeader(name, value);
    if (!key) continue;
    if (KEY_SHAPE.test(key)) return { key, source: name };
    // Authorization presents only Bearer keys and JWT tokens: not Bearer, it is a signed request.
    if (name === 'authorization' && !BEARER.test(value)) {
      signed = { key, source: name, signed: true };
      continue;
    }
    fallback ??= { key, source: name };
  }
  if (queryParam) {
    const key = new URL(url).searchParams.get(queryParam);
    if (key && ((fallback === null && signed === null) || KEY_SHAPE.test(key))) return { key, source: `?${queryParam}` };
  }
  return signed ?? fallback;
}
