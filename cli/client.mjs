// A small client for the keygate admin API: Bearer auth, JSON in and out, and every
// failure turned into an ApiError (the gateway's one error shape) or a NetworkError.

import { ApiError, NetworkError, UsageError } from './errors.mjs';

export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Checks and normalises the gateway base URL. Credentials in the URL are refused: the
 * URL is printed in error messages.
 * @param {string} raw
 * @returns {URL}
 */
export function parseBaseUrl(raw) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`invalid gateway URL "${raw}" (expected e.g. https://keygate.example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`invalid gateway URL "${url.origin}": must be http or https`);
  if (url.username || url.password) throw new UsageError('the gateway URL must not contain credentials; use --token or KEYGATE_ADMIN_TOKEN');
  url.search = '';
  url.hash = '';
  return url;
}

/**
 * A token goes into a header: printable ASCII without spaces. Checked here so that fetch
 * never throws a header error that would quote it.
 * @param {string} token
 */
export function checkToken(token) {
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError('the admin token must be printable ASCII without spaces');
}

/**
 * Why a fetch failed, in a few words (never the request headers).
 * @param {unknown} err
 * @param {number} timeoutMs
 */
function networkReason(err, timeoutMs) {
  const e = /** @type {any} */ (err);
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)}s`;
  const cause = e?.cause;
  if (cause?.code === 'ECONNREFUSED') return `connection refused (${cause.address ?? ''}${cause.port ? `:${cause.port}` : ''})`.replace(' ()', '');
  if (cause?.code === 'ENOTFOUND') return `host not found (${cause.hostname ?? 'DNS lookup failed'})`;
  if (cause?.message) return String(cause.message);
  if (cause?.code) return String(cause.code);
  return String(e?.message ?? err);
}

export class AdminClient {
  /**
   * @param {{ url: URL, token: string, timeoutMs?: number, userAgent?: string }} opts
   */
  constructor(opts) {
    this.base = opts.url;
    /** The path the gateway is mounted under, without a trailing slash ('' at the root). */
    this.prefix = opts.url.pathname.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.userAgent = opts.userAgent ?? 'keygate-cli';
  }

  /** The base URL as printed in messages. */
  get displayUrl() {
    return `${this.base.origin}${this.prefix}`;
  }

  /**
   * @param {string} method
   * @param {string} path   e.g. /admin/keys (already encoded)
   * @param {{ query?: Record<string, string | number | undefined>, body?: unknown, headers?: Record<string, string> }} [opts]
   * @returns {Promise<any>}
   */
  async request(method, path, opts = {}) {
    const url = new URL(`${this.base.origin}${this.prefix}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    /** @type {Record<string, string>} */
    const headers = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
      'user-agent': this.userAgent,
      ...opts.headers,
    };
    /** @type {string | undefined} */
    let body;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }

    /** @type {Response} */
    let res;
    /** @type {string} */
    let text;
    try {
      res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      throw new NetworkError(this.displayUrl, networkReason(err, this.timeoutMs));
    }

    /** @type {any} */
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }

    if (res.status >= 300 && res.status < 400) {
      const where = res.headers.get('location');
      throw new ApiError(res.status, `http_${res.status}`, `the gateway redirected${where ? ` to ${where}` : ''}; pass the final URL as --url`);
    }
    if (!res.ok) {
      const e = json?.error;
      if (e && typeof e.code === 'string') {
        throw new ApiError(res.status, e.code, String(e.message ?? ''), { details: e.details, requestId: e.request_id, body: json });
      }
      const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 120);
      throw new ApiError(res.status, `http_${res.status}`, `${res.statusText || 'HTTP error'}${snippet ? `: ${snippet}` : ''} (is ${this.displayUrl} a keygate gateway?)`, {
        body: json,
      });
    }
    if (json === undefined) {
      throw new ApiError(res.status, 'bad_response', `the answer from ${url.pathname} is not JSON (is ${this.displayUrl} a keygate gateway?)`);
    }
    return json;
  }
}
