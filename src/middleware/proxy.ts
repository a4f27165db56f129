// The proxied request path, steps 1-6 in order. Each step is a plain function of the
// request context, and this is the only handler on the gateway's catch-all route: Hono then
// skips its middleware composition altogether, and no step costs an extra promise or
// dispatch (measured: bench/profile.mjs, bench/ab.mjs).

import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { emitRequestEvent } from '../events/request-event';
import { authenticate } from './authenticate';
import { forward } from './forward';
import { enforceLimits } from './limits';
import { beginRequest, serverTiming } from './request-context';
import { resolveRoute } from './route';

export async function proxy(c: Context<AppEnv>): Promise<Response> {
  beginRequest(c); // request id, configuration, services
  const route = resolveRoute(c); // 1. route (wrangler.toml), methods
  const key = await authenticate(c, route); // 2-3. credential, lookup by digest, access rules
  const admission = await enforceLimits(c, route, key); // 4. revocation marker, limits, budget: one store call
  const response = await forward(c, route, key, admission); // 5-6. stream to the upstream; metering settles after the response
  const timing = serverTiming(c); // key lookup, store, upstream
  if (timing !== null) response.headers.set('server-timing', timing);
  emitRequestEvent(c, route, key, response); // 7. request event to the EVENTS queue, built and sent in waitUntil
  return response;
}
