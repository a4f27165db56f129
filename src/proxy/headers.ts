// Header hygiene for both directions of the proxy. The upstream must be able to trust every
// x-gateway-* header it sees, so client-sent ones are always removed before ours are added.
//
// Cost model: every Headers object is a native object whose construction, per-entry strings
// and destruction cost CPU, and converting a JS array of pairs into one is the slowest way
// to fill it.
// So the request side builds a plain record, which fetch() turns into its own Headers once
// (no intermediate Headers object), and the response side edits, in place, the native copy
// the new Response already holds.

import { keyInHeader } from '../keys/credential';

export const IDENTITY_PREFIX = 'x-gateway-';
const FORWARDED_PREFIX = 'x-forwarded-';

// The client's connection is the client's: the runtime hides `Connection` from the Worker,
// so the headers it names cannot be found and the usual set is dropped by name instead.
// `Expect` belongs to that connection too (the runtime answers `100 Continue` itself);
// forwarded, it makes the upstream answer 100, which must never become the final response.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings'];

/**
 * Client headers an upstream might read as a statement by the gateway or by a proxy in
 * front of it (identity, client address, original URL, the real method): never forwarded.
 * Every `x-forwarded-*` and `x-gateway-*` name is dropped as well, and so is any name that
 * equals one of these once `_` is read as `-` (CGI and WSGI servers map both to the same
 * variable).
 */
export const UNTRUSTED_REQUEST_HEADERS: readonly string[] = [
  'forwarded',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-http-method-override',
  'x-method-override',
  'x-http-method',
  'host',
  'cf-connecting-ip',
  'cf-worker',
  // CGI exposes `Proxy:` as HTTP_PROXY, which HTTP clients in the upstream then use as their
  // outbound proxy (httpoxy); every other `proxy-*` name is for a proxy, never the origin.
  'proxy',
  // Identity headers that common authenticating proxies set for the app behind them
  // (Kubernetes/Apache, oauth2-proxy and nginx auth_request, Grafana's auth proxy).
  'remote-user',
  'x-remote-user',
  'x-remote-group',
  'x-webauth-user',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-preferred-username',
  'x-original-host',
  'x-host',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'client-ip',
];
const PROXY_PREFIX = 'proxy-';

const DROPPED = new Set([...HOP_BY_HOP, ...UNTRUSTED_REQUEST_HEADERS]);
// Spelled with `_`, even the client's correlation id would reach a CGI upstream as a second
// HTTP_X_REQUEST_ID beside the one keygate vouches for.
const DROPPED_UNDERSCORED = new Set([...DROPPED, 'x-request-id']);

/** Whether a client request header (lower-case name) is dropped on every route. */
export function isUntrustedRequestHeader(name: string): boolean {
  if (DROPPED.has(name) || name.startsWith(IDENTITY_PREFIX) || name.startsWith(FORWARDED_PREFIX) || name.startsWith(PROXY_PREFIX)) return true;
  if (name.indexOf('_') === -1) return false;
  const dashed = name.replaceAll('_', '-');
  return DROPPED_UNDERSCORED.has(dashed) || dashed.startsWith(IDENTITY_PREFIX) || dashed.startsWith(FORWARDED_PREFIX) || dashed.startsWith(PROXY_PREFIX);
}

export interface Identity {
  keyId: string;
  owner: string | null;
  type: string;
  scopes: readonly string[];
}

export interface ForwardHeaderOptions {
  /** Every header that may carry a keygate key on this route (lower-case). */
  credentialHeaders: readonly string[];
  /** The key this request presented: a credential header whose value presents it is removed. */
  presentedKey: string | null;
  /** The verified key; null for a preflight passed to the upstream unauthenticated (then no key header is forwarded). */
  identity: Identity | null;
  requestId: string;
  clientIp: string | null;
  proto: string;
  host: string;
  upstreamAuth?: { header: string; value: string };
  /** The body was read and re-serialised: its original content-length no longer applies. */
  bodyReplaced?: boolean;
  /** x-gateway-identity: keygate's signed identity token (routes with identity_jwt). */
  identityToken?: string;
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
const credentialSets = new WeakMap<readonly string[], Set<string>>();

function credentialSetFor(credentialHeaders: readonly string[]): Set<string> {
  let set = credentialSets.get(credentialHeaders);
  if (!set) {
    set = new Set(credentialHeaders);
    credentialSets.set(credentialHeaders, set);
  }
  return set;
}

export function forwardHeaders(incoming: Headers, opts: ForwardHeaderOptions): ForwardedHeaders {
  const credentials = credentialSetFor(opts.credentialHeaders);
  const presented = opts.presentedKey;
  // No prototype: a client header named `__proto__` or `constructor` is just a name here.
  const out: Record<string, string> = Object.create(null);
  // Only set-cookie is listed once per value by Headers; keep every value, as a pair.
  let repeated: [string, string][] | undefined;
  const anonymous = opts.identity === null;
  incoming.forEach((value, name) => {
    if (isUntrustedRequestHeader(name)) return;
    if (credentials.has(name)) {
      // A preflight passed on without a key carries none of the route's key headers.
      if (anonymous) return;
      // Exactly the credential that carried the key goes; `Authorization: Basic ...` or a
      // key header holding something else is the client's credential for the upstream.
      if (presented !== null && keyInHeader(name, value) === presented) return;
    }
    // The key never travels on, wherever else the client put it: in a second header, or
    // joined with other values into one (`Bearer <key>, Basic ...`).
    if (presented !== null && value.includes(presented)) return;
    if (out[name] === undefined) out[name] = value;
    else (repeated ??= []).push([name, value]);
  });
  if (opts.bodyReplaced) delete out['content-length'];
  const id = opts.identity;
  if (id !== null) {
    out['x-gateway-key-id'] = id.keyId;
    if (id.owner !== null) out['x-gateway-owner'] = id.owner;
    out['x-gateway-key-type'] = id.type;
    out['x-gateway-scopes'] = id.scopes.join(' ');
  }
  if (opts.identityToken !== undefined) out['x-gateway-identity'] = opts.identityToken;
  out['x-gateway-request-id'] = opts.requestId;
  // The client's own x-request-id travels on as its correlation id.
  if (out['x-request-id'] === undefined) out['x-request-id'] = opts.requestId;
  if (opts.clientIp) out['x-forwarded-for'] = opts.clientIp;
  out['x-forwarded-proto'] = opts.proto;
  out['x-forwarded-host'] = opts.host;
  if (opts.upstreamAuth) out[opts.upstreamAuth.header] = opts.upstreamAuth.value;
  if (repeated === undefined) return out;
  // Rare: the record holds the first value of each repeated name; add the others unless the
  // name was replaced above.
  const extra = repeated.filter(([name]) => out[name] !== undefined && name !== opts.upstreamAuth?.header);
  return [...Object.entries(out), ...extra];
}

/**
 * Cleans a copy of the upstream's response headers in place (the caller passes the Headers
 * of the Response it built, which workerd copied natively): hop-by-hop headers out,
 * `Service-Worker-Allowed` out (with it, a proxied script could control the gateway's whole
 * origin, /admin/ui included), `Clear-Site-Data` out, keygate's request id in as
 * `x-gateway-request-id`. The upstream's own `x-request-id` stays; without one, the
 * response carries keygate's. A delete per known name (a native no-op when absent) is
 * cheaper than walking every header from JavaScript.
 */
export function scrubResponseHeaders(headers: Headers, requestId: string): void {
  const listed = connectionListed(headers.get('connection'));
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.delete('service-worker-allowed');
  // Clear-Site-Data acts on the whole origin: one route's upstream could wipe the storage and
  // cookies every other route's pages keep, and reload the admin page (signing it out).
  headers.delete('clear-site-data');
  // Only valid field names: delete() throws on anything else, and no such header can exist.
  if (listed !== null) for (const name of listed) if (FIELD_NAME.test(name)) headers.delete(name);
  if (!headers.has('x-request-id')) headers.set('x-request-id', requestId);
  headers.set('x-gateway-request-id', requestId);
}
