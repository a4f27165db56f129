// Requests for every operation of the admin OpenAPI document, enumerated from it (so a new
// admin route is fuzzed without anyone writing a test): path params (mostly real target keys),
// query and header params, and bodies, each valid for its schema or broken.
import fc from 'fast-check';
import { knownCaps, knownListSearch } from './known-failures.mjs';
import { bodyFor, CONTENT_TYPES, enc, NASTY_COMPONENT, paramValue } from './request-parts.mjs';
import { schemaContext } from './schema-arbitraries.mjs';

/**
 * @typedef {import('./schema-arbitraries.mjs').Schema} Schema
 * @typedef {import('./requests.mjs').FuzzRequest} FuzzRequest
 * @typedef {{ method: string, path: string, parameters: { name: string, in: string, required?: boolean, schema: Schema }[], body?: Schema }} Operation
 */

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** How many disposable keys the admin operations get as `{id}` targets ({{ID0}}...). */
export const TARGET_KEYS = 4;

/**
 * Every operation in the document.
 * @param {any} doc the /admin/openapi.json document
 * @returns {Operation[]}
 */
export function operations(doc) {
  /** @type {Operation[]} */
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = /** @type {any} */ (item)[method];
      if (op === undefined) continue;
      const parameters = [...(/** @type {any} */ (item).parameters ?? []), ...(op.parameters ?? [])];
      ops.push({ method: method.toUpperCase(), path, parameters, body: op.requestBody?.content?.['application/json']?.schema });
    }
  }
  return ops;
}

/** @param {Operation} op */
export const opLabel = (op) => `${op.method} /admin${op.path}`;

/**
 * Requests for one admin operation: path params, query, header params and body from the
 * document's schemas, the admin token in front.
 * @param {Operation} op
 * @param {any} doc
 * @returns {fc.Arbitrary<FuzzRequest>}
 */
export function adminRequest(op, doc) {
  const ctx = schemaContext(doc, knownCaps());
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const headerParams = op.parameters.filter((p) => p.in === 'header');

  /** @type {Record<string, fc.Arbitrary<string>>} */
  const pathValues = {};
  for (const p of pathParams) {
    pathValues[p.name] =
      p.name === 'id'
        ? fc.oneof({ weight: 6, arbitrary: fc.nat(TARGET_KEYS - 1).map((i) => `{{ID${i}}}`) }, { weight: 2, arbitrary: paramValue(p.schema, ctx) })
        : paramValue(p.schema, ctx);
  }
  const query = fc.array(
    fc.oneof(
      { weight: 5, arbitrary: queryParams.length ? fc.constantFrom(...queryParams).chain((p) => queryValue(p, ctx).map((v) => `${enc(p.name)}=${v}`)) : fc.constant('') },
      { weight: 1, arbitrary: fc.tuple(NASTY_COMPONENT, NASTY_COMPONENT).map(([k, v]) => `${k}=${v}`) },
    ),
    { maxLength: 4 },
  );
  const headers = fc.array(
    fc.oneof(
      ...headerParams.map((p) => fc.string({ unit: 'grapheme-ascii', maxLength: 260 }).map((v) => /** @type {[string, string]} */ ([p.name, v.trim()]))),
      CONTENT_TYPES.map((v) => /** @type {[string, string]} */ (['content-type', v])),
    ),
    { maxLength: 2 },
  );
  return fc.record({ path: fc.record(pathValues), query, headers, body: bodyFor(op.body, ctx), contentType: fc.boolean() }).map(({ path, query, headers, body, contentType }) => {
    const concrete = op.path.replace(/\{([^}]+)\}/g, (_m, name) => path[name] ?? '');
    const qs = query.filter((q) => q !== '').join('&');
    /** @type {[string, string][]} */
    const h = [['authorization', 'Bearer {{ADMIN}}']];
    if (body !== undefined && contentType && !headers.some(([n]) => n === 'content-type')) h.push(['content-type', 'application/json']);
    h.push(...headers);
    return { label: opLabel(op), method: op.method, path: `/admin${concrete}${qs ? `?${qs}` : ''}`, headers: h, body: op.method === 'GET' || op.method === 'HEAD' ? undefined : body };
  });
}


/**
 * @param {{ name: string, schema: Schema }} p
 * @param {import('./schema-arbitraries.mjs').Ctx} ctx
 */
function queryValue(p, ctx) {
  const v = paramValue(p.schema, ctx);
  return p.name === 'q' ? v.filter((s) => !knownListSearch(s)) : v;
}
