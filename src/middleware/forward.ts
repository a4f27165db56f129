// Step 5: forward to the route's upstream, streaming both ways, with the client's
// credential removed and trusted identity headers attached.

import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { credentialHeaders } from '../keys/credential';
import { forwardHeaders, scrubResponseHeaders } from '../proxy/headers';
import { splitRequestUrl, upstreamUrl } from '../proxy/upstream-url';
import { addTiming } from './request-context';

export function forward() {
  return createMiddleware<AppEnv>(async function forward(c) {
    const route = c.get('route');
    const key = c.get('key');
    const requestId = c.get('requestId');
    const parts = splitRequestUrl(c.req.url);
    let search = parts.search;
    if (route.key_query_param && search) {
      const url = new URL(c.req.url);
      url.searchParams.delete(route.key_query_param);
      search = url.search;
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

    const method = c.req.method;
    const preRead = c.get('forwardBody');
    let body: ReadableStream<Uint8Array> | string | null = null;
    if (method !== 'GET' && method !== 'HEAD') body = preRead ?? c.req.raw.body;

    const headers = forwardHeaders(c.req.raw.headers, {
      credentialHeaders: credentialHeaders(route.key_headers),
      identity: { keyId: key.id, owner: key.owner, type: key.type, scopes: key.scopes, requestId },
      clientIp: c.req.header('cf-connecting-ip') ?? null,
      proto: parts.proto,
      host: parts.host,
      upstreamAuth,
      bodyReplaced: body !== null && preRead !== undefined,
    });

    const result = await c.get('services').upstream.send(target.url, { method, headers, body }, route.timeout_ms);
    addTiming(c.get('timings'), 'upstream', result.ms);
    if (!result.ok) throw new GatewayError(result.code);

    const upstream = result.response;
    let response = new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: upstream.headers });
    scrubResponseHeaders(response.headers, requestId);
    const wrap = c.get('onUpstreamResponse');
    if (wrap) response = wrap(response);
    return response;
  });
}
