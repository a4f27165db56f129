// The admin credential and the calls to the same origin's /admin API.
//
// The credential lives in this module's memory only: no Web Storage, no cookies (a script on
// the same origin, e.g. one a proxied upstream serves, could read those later). A reload or a
// closed tab signs out.

import type { ApiErrorBody } from './types';

const API = '/admin';

let adminCredential: string | null = null;

export function credential(): string | null {
  return adminCredential;
}
export function setCredential(token: string): void {
  adminCredential = token;
}
export function forgetCredential(): void {
  adminCredential = null;
}

/** An API error, or a client-side one (status 0) shown the same way. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly details: unknown;

  constructor(status: number, error: ApiErrorBody | null | undefined) {
    const e: ApiErrorBody = error && typeof error === 'object' ? error : {};
    super(typeof e.message === 'string' ? e.message : 'The request failed.');
    this.status = status;
    this.code = typeof e.code === 'string' ? e.code : 'http_' + status;
    this.requestId = typeof e.request_id === 'string' ? e.request_id : null;
    this.details = e.details;
  }
}

export const clientError = (message: string): ApiError => new ApiError(0, { code: 'invalid_input', message });

/**
 * One /admin call with the Bearer credential. Resolves with the parsed JSON body (typed by
 * the caller: `api<KeyList>(...)`), rejects with an ApiError.
 */
export async function api<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  const cred = credential();
  if (!cred) throw new ApiError(401, { code: 'unauthorized', message: 'Sign in first.' });
  const allHeaders: Record<string, string> = { accept: 'application/json', authorization: 'Bearer ' + cred, ...headers };
  const init: RequestInit = { method, headers: allHeaders, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    allHeaders['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, { code: 'network_error', message: 'The admin API could not be reached.' });
  }
  let data: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok && data !== null) return data as T;
  if (res.ok) throw new ApiError(res.status, { code: 'bad_response', message: 'The admin API sent an unreadable response.' });
  const error = data !== null && typeof data === 'object' && 'error' in data ? (data.error as ApiErrorBody | null) : null;
  throw new ApiError(res.status, error || { message: res.statusText || 'The request failed.' });
}
