// Step 1: match the request to a configured route (longest path prefix) and its methods.

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { matchRoute } from '../config/load';
import { isPreflight } from '../proxy/cors';

/** Paths keygate answers itself: never proxied, even by a `/` route. */
function isReserved(path: string): boolean {
  return path === '/admin' || path.startsWith('/admin/') || path === '/_keygate' || path.startsWith('/_keygate/');
}

export function resolveRoute(c: Context<AppEnv>): Route {
  const path = c.req.path;
  const route = matchRoute(c.get('config'), path);
  if (!route || (route.path === '/' && isReserved(path))) throw new GatewayError('route_not_found');
  const method = c.req.method;
  if (route.methods && !route.methods.includes(method as (typeof route.methods)[number])) {
    // A preflight asks about another method: the route's CORS (or its upstream) answers it.
    const preflightAnswered = (route.cors !== undefined || route.preflight === 'upstream') && isPreflight(method, c.req.raw.headers);
    if (!preflightAnswered) {
      throw new GatewayError('method_not_allowed', `Method ${method} is not allowed on this route.`, {
        headers: { allow: route.methods.join(', ') },
      });
    }
  }
  return route;
}
