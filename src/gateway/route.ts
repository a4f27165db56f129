// Step 1: match the request to a configured route (longest path prefix) and its methods.

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { matchRoute } from '../config/load';
import { isPreflight } from '../proxy/cors';
import { isReservedPath } from '../proxy/reserved';

export function resolveRoute(c: Context<AppEnv>): Route {
  const path = c.req.path;
  const route = matchRoute(c.get('config'), path);
  if (!route || (route.path === '/' && isReservedPath(path))) throw new GatewayError('route_not_found');
  const method = c.req.method;
  // TRACE makes a server echo the request it received, the upstream_auth secret and the
  // identity headers included, back to the key holder (Apache answers it by default).
  if (method.length === 5 && method.toUpperCase() === 'TRACE') {
    throw new GatewayError('method_not_allowed', 'TRACE is never forwarded.', route.methods ? { headers: { allow: route.methods.join(', ') } } : undefined);
  }
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
