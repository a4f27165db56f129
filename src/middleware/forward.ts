// Step 5: forward to the route's upstream, streaming both ways, with the client's
// credential removed and trusted identity headers attached.

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { credentialHeaders } from '../keys/credential';
import type { KeyRecord } from '../keys/record';
import { forwardHeaders, scrubResponseHeaders } from '../proxy/headers';
import { splitRequestUrl, upstreamUrl } from '../proxy/upstream-url';
import type { Admission } from './limits';
import { addTiming } from './request-context';

export async function forward(c: Context<AppEnv>, route: Route, key: KeyRecord, admission: Admission): Promise<Response> {
  const request = c.req.raw;
  const requestId = c.get('requestId');
  const url = request.url;
  const parts = splitRequestUrl(url);
  let search = parts.search;
  if (route.key_query_param && search) {
    const parsed = new URL(url);
    parsed.searchParams.delete(route.key_query_param);
    search = parsed.search;
  }

  const target = upstreamUrl(route, parts.rawPath, search);
  if (!target.ok) throw new GatewayError('invalid_path');

  let upstreamAuth: { header: string; value: string } | undefined;
  if (route.upstream_auth) {
    const secret = c.env[route.upstream_auth.secret];
    if (typeof secret !== 'string' || secret === '') {
      throw new GatewayError('config_invalid', `Invalid configuration: secret ${route.upstream_auth.secret} named by upstream_auth is not set`);
    }
    upstreamAuth = { header: route.upstream_auth.header, value: route.upstream_auth.prefix + secret };
  }

  const method = request.method;
  const preRead = admission.body;
  let body: ReadableStream<Uint8Array> | string | null = null;
  if (method !== 'GET' && method !== 'HEAD') body = preRead ?? request.body;

  const incoming = request.headers;
  const headers = forwardHeaders(incoming, {
    credentialHeaders: credentialHeaders(route.key_headers),
    identity: { keyId: key.id, owner: key.owner, type: key.type, scopes: key.scopes, requestId },
    clientIp: incoming.get('cf-connecting-ip'),
    proto: parts.proto,
    host: parts.host,
    upstreamAuth,
    bodyReplaced: body !== null && preRead !== undefined,
  });

  const result = await c.get('services').upstream.send(target.url, { method, headers, body }, route.timeout_ms);
  addTiming(c.get('timings'), 'upstream', result.ms);
  if (!result.ok) throw new GatewayError(result.code);

  const upstream = result.response;
  // Upstream response headers are immutable: a new Response holds a native, editable copy.
  const response = new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: upstream.headers });
  scrubResponseHeaders(response.headers, requestId);
  return admission.onResponse ? admission.onResponse(response) : response;
}
