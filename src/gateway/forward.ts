// Forwarding, in two parts. prepareForward runs before the key is checked or any limit is
// consumed: everything that can refuse a request without asking the upstream (the path
// rules, the query, a service-worker fetch, a missing upstream secret) is decided there, so
// a refused request costs the key nothing. forward then sends the request, streaming both
// ways, with the presented credential removed and trusted identity headers attached, and
// keeps the response's redirects on the gateway.

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { credentialHeaders } from '../keys/credential';
import type { KeyRecord } from '../keys/record';
import { scopeSetCookies } from '../proxy/cookies';
import { forwardHeaders, scrubResponseHeaders } from '../proxy/headers';
import { withoutQueryParam } from '../proxy/query';
import { rewriteRedirects } from '../proxy/redirects';
import { splitRequestUrl, upstreamUrl } from '../proxy/upstream-url';
import type { Admission } from './limits';
import { identityTokenFor } from '../identity/forward-identity';
import { addTiming } from '../http/request-context';

/** Where a request goes, decided before authentication. */
export interface Target {
  url: string;
  proto: string;
  host: string;
  upstreamAuth: { header: string; value: string } | undefined;
}

export function prepareForward(c: Context<AppEnv>, route: Route): Target {
  const request = c.req.raw;
  const parts = splitRequestUrl(request.url);
  // The key's query parameter never travels on; every other byte of the query does.
  const search = route.key_query_param && parts.search ? withoutQueryParam(parts.search, route.key_query_param) : parts.search;
  const target = upstreamUrl(route, parts.rawPath, search);
  if (!target.ok) throw new GatewayError('invalid_path');

  // Browsers mark service-worker script fetches; a script served from the gateway's origin
  // could control every page on it, /admin/ui included.
  if (request.headers.has('service-worker')) {
    // Even where allowed: a script whose directory is the root would control the root scope,
    // /admin/ui included (Service-Worker-Allowed, which could narrow or widen it, is stripped).
    if (!route.allow_service_worker || parts.rawPath.lastIndexOf('/') === 0) {
      throw new GatewayError('forbidden', 'Service-worker scripts may not be loaded through this route.');
    }
  }

  let upstreamAuth: { header: string; value: string } | undefined;
  if (route.upstream_auth) {
    const secret = c.env[route.upstream_auth.secret];
    if (typeof secret !== 'string' || secret === '') {
      throw new GatewayError('config_invalid', `Invalid configuration: secret ${route.upstream_auth.secret} named by upstream_auth is not set`);
    }
    upstreamAuth = { header: route.upstream_auth.header, value: route.upstream_auth.prefix + secret };
  }
  return { url: target.url, proto: parts.proto, host: parts.host, upstreamAuth };
}

/** No body read, nothing to add: a preflight passed to the upstream without a key. */
export const NO_ADMISSION: Admission = Object.freeze({ body: undefined, onResponse: undefined });

/** Sends the request. `key` is null only for a preflight the route passes on unauthenticated. */
export async function forward(c: Context<AppEnv>, route: Route, target: Target, key: KeyRecord | null, admission: Admission): Promise<Response> {
  const request = c.req.raw;
  const requestId = c.get('requestId');

  const method = request.method;
  const preRead = admission.body;
  let body: ReadableStream<Uint8Array> | string | null = null;
  // Safe methods carry no body: OPTIONS needs only the `read` scope, so with a body it would
  // let a read-only key upload to a handler that does not check the method; and a preflight
  // passed on without a key must not be an unauthenticated upload either.
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') body = preRead ?? request.body;

  const incoming = request.headers;
  const credential = key === null ? undefined : c.get('credential');
  // Routes with identity_jwt: usually a cached token (a string), awaited only when minted now.
  let identityToken: string | Promise<string> | undefined = route.identity_jwt && key !== null ? identityTokenFor(c, route, key) : undefined;
  if (typeof identityToken === 'object') identityToken = await identityToken;
  const headers = forwardHeaders(incoming, {
    credentialHeaders: credentialHeaders(route.key_headers),
    presentedKey: credential?.key ?? null,
    identity: key === null ? null : { keyId: key.id, owner: key.owner, type: key.type, scopes: key.scopes },
    requestId,
    clientIp: incoming.get('cf-connecting-ip'),
    proto: target.proto,
    host: target.host,
    upstreamAuth: target.upstreamAuth,
    bodyReplaced: body !== null && preRead !== undefined,
    identityToken,
  });

  const result = await c.get('services').upstream.send(target.url, { method, headers, body }, route.timeout_ms);
  addTiming(c.get('timings'), 'upstream', result.ms);
  if (!result.ok) throw new GatewayError(result.code);

  const upstream = result.response;
  // An informational status (a 100 Continue the upstream sent anyway, a 101 switch) is never
  // a final response, and a Response cannot be built with one, nor with a status past 599.
  if (upstream.status < 200 || upstream.status > 599) {
    await upstream.body?.cancel();
    throw new GatewayError('upstream_unavailable', `The upstream answered with status ${upstream.status} instead of a final response.`);
  }
  // Upstream response headers are immutable: a new Response holds a native, editable copy.
  const response = new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: upstream.headers });
  const out = response.headers;
  scrubResponseHeaders(out, requestId);
  const config = c.get('config');
  rewriteRedirects(upstream.status, out, route, target, config);
  scopeSetCookies(out, route, target, config);
  return admission.onResponse ? admission.onResponse(response) : response;
}
