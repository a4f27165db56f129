// The one error shape and the one table from error code to HTTP status. Every error
// response, the README's table and the OpenAPI document are generated from ERRORS.

export const ERRORS = {
  bad_request: { status: 400, message: 'The request is invalid.' },
  validation_failed: { status: 400, message: 'The request body failed validation.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  invalid_path: { status: 400, message: 'The request path is not allowed.' },
  missing_key: { status: 401, message: 'An API key is required.' },
  invalid_key: { status: 401, message: 'The API key is not valid.' },
  key_revoked: { status: 401, message: 'The API key has been revoked.' },
  key_expired: { status: 401, message: 'The API key has expired.' },
  unauthorized: { status: 401, message: 'Admin credentials are required.' },
  invalid_signature: { status: 401, message: 'The signed request is not valid.' },
  token_expired: { status: 401, message: 'The signed request token has expired or is not valid yet.' },
  token_replayed: { status: 401, message: 'The signed request token was already used.' },
  token_lifetime_too_long: { status: 401, message: 'The signed request token lives longer than 300 seconds.' },
  budget_exhausted: { status: 402, message: 'The spend budget for this key is exhausted.' },
  key_inactive: { status: 403, message: 'The API key is deactivated.' },
  ip_not_allowed: { status: 403, message: 'The source IP is not allowed for this key.' },
  referer_not_allowed: { status: 403, message: 'The referer is not allowed for this key.' },
  insufficient_scope: { status: 403, message: 'The API key lacks a required scope.' },
  forbidden: { status: 403, message: 'The credential may not perform this action.' },
  endpoint_not_metered: { status: 403, message: 'This endpoint is not one this route meters.' },
  model_not_allowed: { status: 403, message: 'This key may not call this model.' },
  route_not_found: { status: 404, message: 'No route matches this path.' },
  not_found: { status: 404, message: 'The resource does not exist.' },
  method_not_allowed: { status: 405, message: 'The method is not allowed on this route.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The request body must be JSON.' },
  rate_limited: { status: 429, message: 'A rate limit was exceeded.' },
  credits_exhausted: { status: 429, message: "The key's credits are spent." },
  too_many_concurrent_requests: { status: 429, message: 'Too many requests of this key are in flight.' },
  internal_error: { status: 500, message: 'An internal error occurred.' },
  config_invalid: { status: 500, message: 'The gateway configuration is invalid.' },
  upstream_unavailable: { status: 502, message: 'The upstream could not be reached.' },
  store_unavailable: { status: 503, message: 'A storage dependency is unavailable.' },
  upstream_timeout: { status: 504, message: 'The upstream did not answer in time.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export type ErrorStatus = (typeof ERRORS)[ErrorCode]['status'];

export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id: string; details?: unknown };
}

/**
 * Thrown by HTTP-facing code; mapped to a response in exactly one place (http/errors.ts).
 *
 * An Error by its prototype chain (so `instanceof Error` holds and Hono hands it to onError),
 * but built without running the Error constructor: expected refusals need no stack trace,
 * and capturing one (even with Error.stackTraceLimit at 0) is the costliest part of
 * answering a bad key, a request anyone can send at will.
 */
export class GatewayError {
  readonly name = 'GatewayError';
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message?: string, opts: { details?: unknown; headers?: Record<string, string> } = {}) {
    this.code = code;
    this.message = message ?? ERRORS[code].message;
    this.details = opts.details;
    this.headers = opts.headers;
  }
}
Object.setPrototypeOf(GatewayError.prototype, Error.prototype);

// Error's type, for the places typed against Error (Hono's onError).
export interface GatewayError extends Error {}

export function httpStatusOf(code: ErrorCode): ErrorStatus {
  return ERRORS[code].status;
}

export function errorResponse(
  code: ErrorCode,
  requestId: string,
  message: string = ERRORS[code].message,
  opts: { details?: unknown; headers?: Record<string, string> } = {},
): Response {
  const body: ErrorBody = { error: { code, message, request_id: requestId } };
  if (opts.details !== undefined) body.error.details = opts.details;
  // A plain record (lower-case names): workerd builds the response's headers from it in one
  // conversion, where a Headers object and a call per header cost several times more.
  const headers: Record<string, string> = Object.create(null);
  if (opts.headers) for (const name in opts.headers) headers[name.toLowerCase()] = opts.headers[name] as string;
  headers['content-type'] = 'application/json; charset=utf-8';
  headers['cache-control'] = 'no-store';
  headers['x-request-id'] = requestId;
  const status = httpStatusOf(code);
  if (status === 401 && headers['www-authenticate'] === undefined) {
    headers['www-authenticate'] = code === 'unauthorized' ? 'Bearer realm="keygate-admin"' : `Bearer realm="keygate", error="invalid_token"`;
  }
  return new Response(JSON.stringify(body), { status, headers });
}
