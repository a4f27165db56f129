// The proxied request path, in order. Each step is a plain function of the request
// context, and this is the only handler on the gateway's catch-all route: Hono then skips
// its middleware composition altogether, and no step costs an extra promise or dispatch.
// Every check that can refuse a request without the upstream runs before the key's limits
// are touched, so a refused request consumes nothing.

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { emitRequestEvent } from '../events/request-event';
import { isPreflight } from '../proxy/cors';
import { authenticate } from './authenticate';
import { withCors } from './cors';
import { forward, NO_ADMISSION, prepareForward } from './forward';
import { enforceLimits } from './limits';
import { beginRequest, serverTiming } from '../http/request-context';
import { resolveRoute } from './route';

export function proxy(c: Context<AppEnv>): Promise<Response> {
  beginRequest(c); // request id, configuration, services
  const route = resolveRoute(c); // 1. route (wrangler.toml), methods; /admin and /_keygate are never proxied
  // Routes with `cors`: preflights answered by keygate, CORS headers on every response.
  return route.cors === undefined ? proxyRoute(c, route) : withCors(c, route, route.cors, proxyRoute);
}

async function proxyRoute(c: Context<AppEnv>, route: Route): Promise<Response> {
  const target = prepareForward(c, route); // 2. upstream URL (path rules, query), service-worker fetches, upstream secret
  if (route.preflight === 'upstream' && isPreflight(c.req.method, c.req.raw.headers)) {
    return forward(c, route, target, null, NO_ADMISSION); // a preflight carries no key: the upstream answers it
  }
  const key = await authenticate(c, route); // 3-4. credential, lookup by digest, access rules
  const admission = await enforceLimits(c, route, key); // 5. revocation marker, limits, budget: one store call
  let response: Response;
  try {
    response = await forward(c, route, target, key, admission); // 6-7. stream to the upstream; metering settles after the response
  } catch (error) {
    admission.release?.(); // no response will carry the lease (upstream failed or timed out)
    throw error;
  }
  const timing = serverTiming(c); // key lookup, store, upstream: after the upstream's own entries
  if (timing !== null) response.headers.append('server-timing', timing);
  emitRequestEvent(c, route, key, response); // 8. request event into the isolate's batch for the EVENTS queue (sent in waitUntil)
  return response;
}
