// The error handlers every keygate Hono app installs (the gateway and the mounted /admin
// app): one JSON error shape for every failure, and nothing of an unknown exception leaks.

import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from '../context';
import { errorResponse, GatewayError } from '../errors';
import { serverTiming } from './request-context';

/** keygate's request id on every error response, beside the x-request-id errorResponse sets. */
function idHeaders(requestId: string): Record<string, string> {
  return { 'x-gateway-request-id': requestId };
}

export function onError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId') ?? 'unknown';
  if (err instanceof GatewayError) {
    const headers: Record<string, string> = { ...err.headers, 'x-gateway-request-id': requestId };
    // A refusal after the store or upstream answered still says how long they took.
    const timing = serverTiming(c);
    if (timing !== null) headers['server-timing'] = timing;
    return errorResponse(err.code, requestId, err.message, { details: err.details, headers });
  }
  const headers = idHeaders(requestId);
  if (err instanceof HTTPException && err.status === 400) {
    // Hono's validators throw this for unparseable JSON bodies.
    return errorResponse('invalid_json', requestId, undefined, { headers });
  }
  if (err instanceof HTTPException && err.status === 415) {
    return errorResponse('unsupported_media_type', requestId, 'Send the body as JSON with content-type: application/json.', { headers });
  }
  if (err instanceof HTTPException && err.status >= 400 && err.status < 500) {
    return errorResponse('bad_request', requestId, undefined, { headers });
  }
  // Log the class and message only: never request headers or key material.
  console.error(JSON.stringify({ level: 'error', request_id: requestId, error: err.name, message: err.message }));
  return errorResponse('internal_error', requestId, undefined, { headers });
}

export function notFound(c: Context<AppEnv>): Response {
  const requestId = c.get('requestId') ?? 'unknown';
  return errorResponse('route_not_found', requestId, undefined, { headers: idHeaders(requestId) });
}
