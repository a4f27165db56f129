// Fuzz requests: every operation of the admin OpenAPI document (admin-requests.mjs) and random
// proxied requests (proxy-requests.mjs). A request is plain data with placeholders for
// run-specific secrets and ids ({{ADMIN}}, {{KEY}}, {{METERED}}, {{ID0}}...), so a failing case
// prints as a curl that works on any run.
import fc from 'fast-check';
import { adminRequest, operations } from './admin-requests.mjs';
import { proxyRequest } from './proxy-requests.mjs';

export { adminRequest, operations, opLabel, TARGET_KEYS } from './admin-requests.mjs';
export { KNOWN } from './known-failures.mjs';
export { fuzzRoutes, proxyRequest } from './proxy-requests.mjs';

/**
 * @typedef {string | { bytes: number[] } | { repeat: string, count: number }} Body
 * @typedef {{ label: string, method: string, path: string, headers: [string, string][], body?: Body }} FuzzRequest
 * @typedef {import('./admin-requests.mjs').Operation} Operation
 */

/**
 * Every admin operation and the proxy, weighted so each operation gets its share.
 * @param {any} doc
 * @returns {fc.Arbitrary<FuzzRequest>}
 */
export function anyRequest(doc) {
  const ops = operations(doc);
  return fc.oneof(...ops.map((op) => ({ weight: 1, arbitrary: adminRequest(op, doc) })), { weight: Math.max(3, Math.ceil(ops.length / 2)), arbitrary: proxyRequest() });
}

