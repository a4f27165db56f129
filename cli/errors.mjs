// The CLI's three failure kinds, each with its exit code and its one stderr line. Every line
// has the same shape, `error: <code>: <message>`, so scripts can split it one way:
//   UsageError    exit 2  bad flags, missing URL/token: `error: usage_error: <message>`
//   ApiError      exit 1  the gateway answered with an error: `error: <code>: <message>`
//                         (<code> is the gateway's error code, or http_<status>)
//   NetworkError  exit 1  no answer at all: `error: network_error: cannot reach <url>: <reason>`
//   anything else exit 1  a bug in the CLI: `error: internal_error: <message>`

export const EXIT_OK = 0;
export const EXIT_API = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * @typedef {{ error: { code: string, message: string, request_id?: string, details?: unknown } }} ErrorBody
 */

export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status
   * @param {string} code    the gateway's error code (or http_<status> when the answer had no error body)
   * @param {string} message
   * @param {{ details?: unknown, requestId?: string, body?: unknown }} [opts]
   */
  constructor(status, code, message, opts = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = opts.details;
    this.requestId = opts.requestId;
    /** The parsed JSON body, when there was one (printed by --json). */
    this.body = opts.body;
    /** Extra text appended to the error line (e.g. how to retry). */
    this.hint = '';
  }
}

export class NetworkError extends Error {
  /**
   * @param {string} url     the gateway URL, without credentials
   * @param {string} reason
   */
  constructor(url, reason) {
    super(reason);
    this.name = 'NetworkError';
    this.url = url;
    this.reason = reason;
    this.hint = '';
  }
}

/**
 * `path: message; path: message` from a validation_failed `details` array.
 * @param {unknown} details
 * @returns {string}
 */
export function describeDetails(details) {
  if (!Array.isArray(details)) return '';
  return details
    .map((d) => (d && typeof d === 'object' && 'path' in d ? `${String(d.path)}: ${String(/** @type {any} */ (d).message ?? 'invalid')}` : JSON.stringify(d)))
    .join('; ');
}

/**
 * The one stderr line for a failure, and its exit code.
 * @param {unknown} err
 * @returns {{ line: string, exitCode: number }}
 */
export function describeFailure(err) {
  if (err instanceof UsageError) return { line: `error: usage_error: ${err.message}`, exitCode: EXIT_USAGE };
  if (err instanceof ApiError) {
    let line = `error: ${err.code}: ${err.message}`;
    const fields = err.code === 'validation_failed' ? describeDetails(err.details) : '';
    if (fields) line += ` (${fields})`;
    if (err.hint) line += ` ${err.hint}`;
    return { line, exitCode: EXIT_API };
  }
  if (err instanceof NetworkError) {
    return { line: `error: network_error: cannot reach ${err.url}: ${err.reason}${err.hint ? ` ${err.hint}` : ''}`, exitCode: EXIT_API };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { line: `error: internal_error: ${message}`, exitCode: EXIT_API };
}
