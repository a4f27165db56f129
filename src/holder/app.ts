// /_keygate: endpoints for key holders, authenticated by the key itself (no route needed):
// GET /_keygate/usage (windows and budget) and GET /_keygate/key (the redacted record).

import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { presentKey } from '../keys/record';
import { readUsageGuarded } from '../limits/usage-view';
import { holderAuth } from '../http/holder-auth';
import { requestContext } from '../http/request-context';

async function usageOf(c: Context<AppEnv>) {
  const usage = await readUsageGuarded(c.get('services'), c.get('config'), c.get('key'));
  if (!usage) throw new GatewayError('store_unavailable', 'The limit store is unavailable.');
  return usage;
}

export const holderApp = new Hono<AppEnv>();
holderApp.use('*', requestContext());
holderApp.use('*', holderAuth());
holderApp.get('/usage', async (c) => c.json(await usageOf(c), 200, { 'cache-control': 'no-store' }));
holderApp.get('/key', async (c) => {
  const key = c.get('key');
  return c.json({ key: presentKey(key), usage: await usageOf(c) }, 200, { 'cache-control': 'no-store' });
});

