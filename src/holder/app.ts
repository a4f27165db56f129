// /_keygate: endpoints for key holders, authenticated by the key itself (no route needed):
// GET /_keygate/usage (windows and budget) and GET /_keygate/key (the redacted record).

import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { emitUse } from '../events/request-event';
import { readCredential } from '../keys/credential';
import { presentKey } from '../keys/record';
import { verifyKey } from '../keys/verify';
import { checkRevocationMarker } from '../limits/revocation';
import { readUsage } from '../limits/usage';
import { requestContext } from '../middleware/request-context';

const selfAuth = () =>
  createMiddleware<AppEnv>(async function selfAuth(c, next) {
    const credential = readCredential(c.req.raw.headers, c.req.url, [], undefined);
    if (!credential) throw new GatewayError('missing_key');
    const result = await verifyKey(
      credential.key,
      { prefixes: c.get('config').prefixes, store: c.get('services').keys, backfill: (p) => c.executionCtx.waitUntil(p) },
      { now: Date.now(), ip: c.req.header('cf-connecting-ip') ?? null, referer: c.req.header('referer') ?? null, requiredScopes: [] },
    );
    if (!result.ok) throw new GatewayError(result.code);
    const marker = await checkRevocationMarker(c.get('services'), result.key.id);
    if (!marker.ok) throw new GatewayError(marker.reason);
    c.set('key', result.key);
    c.set('credential', credential);
    emitUse(c, result.key.id, 'holder');
    await next();
  });

async function usageOf(c: import('hono').Context<AppEnv>) {
  const services = c.get('services');
  const key = c.get('key');
  const guarded = await services.guard.run('usage', services.storeTimeoutMs * 4, () => readUsage(c.get('config'), services.limits, key));
  if (!guarded.ok) throw new GatewayError('store_unavailable', 'The limit store is unavailable.');
  return guarded.value;
}

export const holderApp = new Hono<AppEnv>();
holderApp.use('*', requestContext());
holderApp.use('*', selfAuth());
holderApp.get('/usage', async (c) => c.json(await usageOf(c), 200, { 'cache-control': 'no-store' }));
holderApp.get('/key', async (c) => {
  const key = c.get('key');
  return c.json({ key: presentKey(key), usage: await usageOf(c) }, 200, { 'cache-control': 'no-store' });
});

export { usageOf };
