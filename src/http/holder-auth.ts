// Key-holder authentication for /_keygate/*: the key itself, from the usual headers or the
// query, with the same checks as the proxy (revocation marker included, via key-auth.ts).

import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { emitUse } from '../events/request-event';
import { readCredential } from '../keys/credential';
import { accessOf, verifyPresentedKey } from './key-auth';

export const holderAuth = () =>
  createMiddleware<AppEnv>(async function holderAuth(c, next) {
    const credential = readCredential(c.req.raw.headers, c.req.url, [], undefined);
    if (!credential) throw new GatewayError('missing_key');
    const result = await verifyPresentedKey(c, credential.key, accessOf(c, []));
    if (!result.ok) throw new GatewayError(result.code);
    c.set('key', result.key);
    emitUse(c, result.key.id, 'holder');
    await next();
  });
