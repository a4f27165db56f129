// Header hygiene for both directions of the proxy. The upstream must be able to trust every
// x-gateway-* header it sees, so client-sent ones are always removed before ours are added.
//
// Cost model (measured in workerd with bench/profile.mjs and A/B runs of the bench): every
// Headers object is a native object whose construction, per-entry strings and destruction
// cost CPU, and converting a JS array of pairs into one is by far the slowest way to fill it.
// So the request side builds a plain record, which fetch() turns into its own Headers once
// (no intermediate Headers object), and the response side edits, in place, the native copy
// the new Response already holds.

export const IDENTITY_PREFIX = 'x-gateway-';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
// Client-supplied forwarding headers are not trustworthy; we set our own.
const UNTRUSTED_FORWARDING = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-real-ip', 'host', 'cf-connecting-ip', 'cf-worker'];

export interface Identity {
  keyId: string;
  owner: string | null;
  type: string;
  scopes: readonly string[];
  requestId: string;
}

export interface ForwardHeaderOptions {
  /** Every header that may carry a keygate credential: all are removed. */
  credentialHeaders: readonly string[];
  identity: Identity;
  clientIp: string | null;
  proto: string;
  host: string;
  upstreamAuth?: { header: string; value: string };
  /** The body was read and re-serialised: its original content-length no longer applies. */
  bodyReplaced?: boolean;
}

/** What fetch() accepts as headers: a record, or name/value pairs when a name repeats. */
export type ForwardedHeaders = Record<string, string> | [string, string][];

/** Names listed in a Connection header are hop-by-hop too (lower-case, trimmed). */
function connectionListed(value: string | null): string[] | null {
  if (value === null) return null;
  // Usually one token (`keep-alive`, `close`): no split.
  if (!value.includes(',')) return [value.trim().toLowerCase()];
  const out: string[] = [];
  for (const n of value.split(',')) out.push(n.trim().toLowerCase());
  return out;
}

const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

// Keyed by the credential-header list itself: credentialHeaders() returns one array per
// route, so no string is built per request; a WeakMap bounds itself.
const dropSets = new WeakMap<readonly string[], Set<string>>();

function dropSetFor(credentialHeaders: readonly string[]): Set<string> {
  let set = dropSets.get(credentialHeaders);
  if (!set) {
    set = new Set([...HOP_BY_HOP, ...UNTRUSTED_FORWARDING, ...credentialHeaders]);
    dropSets.set(credentialHeaders, set);
  }
  return set;
}

export function forwardHeaders(incoming: Headers, opts: ForwardHeaderOptions): ForwardedHeaders {
  const drop = dropSetFor(opts.credentialHeaders);
  let listed: string[] | null = null;
  // No prototype: a client header named `__proto__` or `constructor` is just a name here.
  const out: Record<string, string> = Object.create(null);
  // Only set-cookie is listed once per value by Headers; keep every value, as a pair.
  let repeated: [string, string][] | undefined;
  incoming.forEach((value, name) => {
    if (name === 'connection') listed = connectionListed(value);
    if (drop.has(name) || name === 'x-request-id' || name.startsWith(IDENTITY_PREFIX)) return;
    if (out[name] === undefined) out[name] = value;
    else (repeated ??= []).push([name, value]);
  });
  const hopByHop = listed as string[] | null;
  if (hopByHop !== null) for (const n of hopByHop) delete out[n];
  if (opts.bodyReplaced) delete out['content-length'];
  const id = opts.identity;
  out['x-gateway-key-id'] = id.keyId;
  if (id.owner !== null) out['x-gateway-owner'] = id.owner;
  out['x-gateway-key-type'] = id.type;
  out['x-gateway-scopes'] = id.scopes.join(' ');
  out['x-gateway-request-id'] = id.requestId;
  out['x-request-id'] = id.requestId;
  if (opts.clientIp) out['x-forwarded-for'] = opts.clientIp;
  out['x-forwarded-proto'] = opts.proto;
  out['x-forwarded-host'] = opts.host;
  if (opts.upstreamAuth) out[opts.upstreamAuth.header] = opts.upstreamAuth.value;
  if (repeated === undefined) return out;
  // Rare: the record holds the first value of each repeated name; add the others unless the
  // name was removed or replaced above.
  const extra = repeated.filter(([name]) => out[name] !== undefined && !(hopByHop !== null && hopByHop.includes(name)) && name !== opts.upstreamAuth?.header);
  return [...Object.entries(out), ...extra];
}

/**
 * Cleans a copy of the upstream's response headers in place (the caller passes the Headers
 * of the Response it built, which workerd copied natively): hop-by-hop headers out, our
 * x-request-id in. A delete per known name (a native no-op when absent) is cheaper than
 * walking every header from JavaScript.
 */
export function scrubResponseHeaders(headers: Headers, requestId: string): void {
  const listed = connectionListed(headers.get('connection'));
  for (const name of HOP_BY_HOP) headers.delete(name);
  // Only valid field names: delete() throws on anything else, and no such header can exist.
  if (listed !== null) for (const name of listed) if (FIELD_NAME.test(name)) headers.delete(name);
  headers.set('x-request-id', requestId);
}
