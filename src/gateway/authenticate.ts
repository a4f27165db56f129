// Steps 2-3: read the credential, verify the key (format, lookup, access rules).

import type { Context } from 'hono';
import { requiredScopes, type AccessRequest } from '../access/access';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { readCredential } from '../keys/credential';
import type { KeyRecord } from '../keys/record';
import { verifyKey } from '../keys/verify';
import { verifySignedRequest } from '../signing/authenticate-signed';
import { addTiming } from '../http/request-context';

/** What the access rules see of this request. IP and referer are read only when a key has an allowlist. */
class RequestFacts implements AccessRequest {
  constructor(
    private readonly headers: Headers,
    readonly now: number,
    readonly requiredScopes: readonly string[],
  ) {}

  get ip(): string | null {
    return this.headers.get('cf-connecting-ip');
  }

  get referer(): string | null {
    return this.headers.get('referer') ?? this.headers.get('origin');
  }
}

/** The verified key of this request; throws the access failure's GatewayError otherwise. */
export async function authenticate(c: Context<AppEnv>, route: Route): Promise<KeyRecord> {
  const request = c.req.raw;
  // The URL is only read (a native string copy) when the route takes keys from the query.
  const credential = readCredential(request.headers, route.key_query_param ? request.url : '', route.key_headers, route.key_query_param);
  if (!credential) throw new GatewayError('missing_key');

  const started = performance.now();
  const store = c.get('services').keys;
  const deps = { prefixes: c.get('config').prefixes, store, backfill: (p: Promise<unknown>) => c.executionCtx.waitUntil(p) };
  const facts = new RequestFacts(request.headers, Date.now(), requiredScopes(request.method, route.scopes));
  let result;
  if (credential.signed) {
    // `Authorization: JWT`: the token names the key; its jti goes to the admission.
    if (!route.auth.includes('signed')) throw new GatewayError('missing_key', 'This route accepts API keys, not signed requests.');
    const signed = await verifySignedRequest(c.env, credential.key, deps, facts);
    if (signed.ok) c.set('replay', signed.replay);
    result = signed;
  } else {
    if (!route.auth.includes('key')) throw new GatewayError('invalid_signature', 'This route accepts signed requests only (Authorization: JWT).');
    result = await verifyKey(credential.key, deps, facts);
  }
  if (!result.ok) {
    if (result.key) c.set('key', result.key); // identified, then refused: logged as a request event
    // Lookup capacity of this isolate is spent (a flood of unknown keys): ask the client to retry.
    if (result.code === 'store_unavailable') throw new GatewayError(result.code, result.detail, { headers: { 'retry-after': '1' } });
    throw new GatewayError(result.code, result.detail);
  }
  // Only for accepted keys: on refusals the lookup tier would tell unknown from malformed keys.
  addTiming(c.get('timings'), 'key', performance.now() - started, result.source);

  const key = result.key;
  // Forwarding removes exactly the header (or query parameter) that carried this key.
  c.set('credential', credential);
  // The request event (queue consumer) keeps last_used_at; later refusals log against this key.
  c.set('key', key);
  return key;
}
