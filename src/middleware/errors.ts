// The error handlers every keygate Hono app installs (the gateway and the mounted /admin
// app): one JSON error shape for every failure, and nothing of an unknown exception leaks.

import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from '../context';
import { errorResponse, GatewayError } from '../errors';
import { serverTiming } from './request-context';

export function onError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId') ?? 'unknown';
  if (err instanceof GatewayError) {
    // A refusal after the store or upstream answered still says how long they took.
    const timing = serverTiming(c);
    const headers = timing === null ? err.headers : { ...err.headers, 'server-timing': timing };
    return errorResponse(err.code, requestId, err.message, { details: err.details, headers });
  }
  if (err instanceof HTTPException && err.status === 400) {
    // Hono's validators throw this for unparseable JSON bodies.
    return errorResponse('invalid_json', requestId);
  }
  if (err instanceof HTTPException && err.status === 415) {
    return errorResponse('unsupported_media_type', requestId, 'Send the body as JSON with content-type: application/json.');
  }
  if (err instanceof HTTPException && err.status >= 400 && err.status < 500) {
    return errorResponse('bad_request', requestId);
  }
  // Log the class and message only: never request headers or key material.
  console.error(JSON.stringify({ level: 'error', request_id: requestId, error: err.name, message: err.message }));
  return errorResponse('internal_error', requestId);
}

export function notFound(c: Context<AppEnv>): Response {
  return errorResponse('route_not_found', c.get('requestId') ?? 'unknown');
}
