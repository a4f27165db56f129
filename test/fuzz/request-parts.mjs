// Pieces of fuzz requests shared by the admin and proxy generators: interesting path and
// query components, and bodies (JSON for a schema, broken JSON, bad UTF-8, huge, deep).
import fc from 'fast-check';
import { inKnownClass } from './known-failures.mjs';
import { deepNesting, invalidValue, validValue } from './schema-arbitraries.mjs';

/**
 * @typedef {import('./schema-arbitraries.mjs').Schema} Schema
 * @typedef {import('./requests.mjs').Body} Body
 */

/** Characters that make a path or query value interesting, percent-encoded or raw. */
export const NASTY_COMPONENT = fc.constantFrom('', '%', '%zz', '%00', '%2f', '%2e%2e', '..', '%C0%AF', '%FF', '%E2%80%AE', 'a%20b', '+', '%2B', ';x', 'key_', 'key_00000000000000000000000000', 'x'.repeat(3000), '%u0041', '\u00e9', '\ud83d\ude00');

/**
 * Percent-encodes s; a lone surrogate becomes its (invalid) three UTF-8-style bytes, which is
 * what a careless client sends.
 * @param {string} s
 */
export function enc(s) {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
    else out += encodeURIComponent(ch);
  }
  return out;
}

/**
 * A string form of a query or path value: the schema's valid values, or broken ones.
 * @param {Schema} schema
 * @param {import('./schema-arbitraries.mjs').Ctx} ctx
 */
export function paramValue(schema, ctx) {
  const asText = (/** @type {unknown} */ v) => (typeof v === 'string' ? enc(v) : enc(JSON.stringify(v) ?? ''));
  return fc.oneof(
    { weight: 4, arbitrary: validValue(schema, ctx).map(asText) },
    { weight: 2, arbitrary: invalidValue(schema, ctx).map(asText) },
    { weight: 1, arbitrary: NASTY_COMPONENT },
  );
}

/** A JSON body: valid for the schema, broken in one place, or not JSON at all. */
export function bodyFor(/** @type {Schema | undefined} */ schema, /** @type {import('./schema-arbitraries.mjs').Ctx} */ ctx) {
  /** @type {fc.Arbitrary<Body | undefined>} */
  const junk = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('', ' ', 'null', '[]', '"x"', '{', '{"a":', '{"a":1}{"b":2}', '\ufeff{}', '{"a":1,"a":2}', 'NaN', '1e999', 'not json', '<xml/>'),
    fc.string({ unit: 'binary', maxLength: 64 }),
    fc.uint8Array({ maxLength: 48 }).map((b) => ({ bytes: [0x7b, 0x22, ...b, 0xff, 0xfe, 0x22, 0x7d] })),
    fc.constantFrom(64 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024).map((count) => ({ repeat: 'a', count })),
    deepNesting().map((v) => JSON.stringify(v)),
  );
  if (schema === undefined) return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junk });
  const json = (/** @type {fc.Arbitrary<unknown>} */ a) => a.filter((v) => !inKnownClass(v)).map((v) => /** @type {Body} */ (JSON.stringify(v)));
  return fc.oneof({ weight: 5, arbitrary: json(validValue(schema, ctx)) }, { weight: 4, arbitrary: json(invalidValue(schema, ctx)) }, { weight: 2, arbitrary: junk });
}

export const CONTENT_TYPES = fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '');
