// HTTP glue for x-gateway-identity: the issuer (IDENTITY_ISSUER, else this gateway's origin)
// and configuration errors mapped to the one error table. A missing or bad signing key
// refuses the request (500 config_invalid) rather than forwarding it without identity.

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import type { KeyRecord } from '../keys/record';
import { splitRequestUrl } from '../proxy/upstream-url';
import { identityToken } from './mint';
import { IdentityKeyError } from './signing-key';

export function identityTokenFor(c: Context<AppEnv>, route: Route, key: KeyRecord): string | Promise<string> {
  const parts = splitRequestUrl(c.req.url);
  const issuer = c.get('config').IDENTITY_ISSUER ?? `${parts.proto}://${parts.host}`;
  const background = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
  const token = identityToken({ env: c.env, issuer, routePath: route.path, upstream: route.upstream, key, now: Date.now(), background });
  if (typeof token === 'string') return token;
  return token.catch((error: unknown) => {
    if (error instanceof IdentityKeyError) throw new GatewayError('config_invalid', `Invalid configuration: ${error.message}`);
    throw error;
  });
}
