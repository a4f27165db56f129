// Step 1: match the request to a configured route (longest path prefix) and its methods.

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { matchRoute } from '../config/load';

export function resolveRoute(c: Context<AppEnv>): Route {
  const route = matchRoute(c.get('config'), c.req.path);
  if (!route) throw new GatewayError('route_not_found');
  const method = c.req.method;
  if (route.methods && !route.methods.includes(method as (typeof route.methods)[number])) {
    throw new GatewayError('method_not_allowed', `Method ${method} is not allowed on this route.`, {
      headers: { allow: route.methods.join(', ') },
    });
  }
  return route;
}
