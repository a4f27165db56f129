// Header hygiene for both directions of the proxy. The upstream must be able to trust every
// x-gateway-* header it sees, so client-sent ones are always removed before ours are added.

export const IDENTITY_PREFIX = 'x-gateway-';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

function stripHopByHop(headers: Headers): void {
  const listed = headers.get('connection');
  if (listed) for (const name of listed.split(',')) headers.delete(name.trim());
  for (const name of HOP_BY_HOP) headers.delete(name);
}

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
}

export function forwardHeaders(incoming: Headers, opts: ForwardHeaderOptions): Headers {
  const out = new Headers(incoming);
  stripHopByHop(out);
  for (const name of opts.credentialHeaders) out.delete(name);
  for (const name of [...out.keys()]) {
    if (name.startsWith(IDENTITY_PREFIX)) out.delete(name);
  }
  // Client-supplied forwarding headers are not trustworthy; we set our own.
  for (const name of ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-real-ip', 'host', 'cf-connecting-ip', 'cf-worker']) out.delete(name);
  const id = opts.identity;
  out.set('x-gateway-key-id', id.keyId);
  if (id.owner !== null) out.set('x-gateway-owner', id.owner);
  out.set('x-gateway-key-type', id.type);
  out.set('x-gateway-scopes', id.scopes.join(' '));
  out.set('x-gateway-request-id', id.requestId);
  out.set('x-request-id', id.requestId);
  if (opts.clientIp) out.set('x-forwarded-for', opts.clientIp);
  out.set('x-forwarded-proto', opts.proto);
  out.set('x-forwarded-host', opts.host);
  if (opts.upstreamAuth) out.set(opts.upstreamAuth.header, opts.upstreamAuth.value);
  return out;
}

export function responseHeaders(upstream: Headers, requestId: string): Headers {
  const out = new Headers(upstream);
  stripHopByHop(out);
  out.set('x-request-id', requestId);
  return out;
}
