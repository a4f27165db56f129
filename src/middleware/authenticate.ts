// Steps 2-3: read the credential, verify the key (format, lookup, access rules).

import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import { requiredScopes, type AccessRequest } from '../access/access';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { readCredential } from '../keys/credential';
import { verifyKey } from '../keys/verify';
import { LruCache } from '../lib/lru';
import { addTiming } from './request-context';

// last_used_at is written at most once a minute per key per isolate.
const touched = new LruCache<string, true>(10_000, 60_000);

/** What the access rules see of this request. IP and referer are read only when a key has an allowlist. */
class RequestFacts implements AccessRequest {
  constructor(
    private readonly c: Context<AppEnv>,
    readonly now: number,
    readonly requiredScopes: readonly string[],
  ) {}

  get ip(): string | null {
    return this.c.req.header('cf-connecting-ip') ?? null;
  }

  get referer(): string | null {
    return this.c.req.header('referer') ?? this.c.req.header('origin') ?? null;
  }
}

export function authenticate() {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const route = c.get('route');
    // The URL is only read (a native string copy) when the route takes keys from the query.
    const credential = readCredential(c.req.raw.headers, route.key_query_param ? c.req.url : '', route.key_headers, route.key_query_param);
    if (!credential) throw new GatewayError('missing_key');

    const started = performance.now();
    const store = c.get('services').keys;
    const result = await verifyKey(
      credential.key,
      { prefixes: c.get('config').prefixes, store, backfill: (p) => c.executionCtx.waitUntil(p) },
      new RequestFacts(c, Date.now(), requiredScopes(c.req.method, route.scopes)),
    );
    if (!result.ok) throw new GatewayError(result.code, result.detail);
    // Only for accepted keys: on refusals the lookup tier would tell unknown from malformed keys.
    addTiming(c.get('timings'), 'key', performance.now() - started, result.source);

    c.set('key', result.key);
    c.set('credential', credential);
    if (touched.get(result.key.id) === undefined) {
      touched.set(result.key.id, true);
      c.executionCtx.waitUntil(store.repo.touch(result.key.id, Date.now()).catch(() => undefined));
    }
    await next();
  });
}
