// Step 1: match the request to a configured route (longest path prefix) and its methods.

import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { matchRoute } from '../config/load';

export function routeMatch() {
  return createMiddleware<AppEnv>(async function routeMatch(c, next) {
    const route = matchRoute(c.get('config'), c.req.path);
    if (!route) throw new GatewayError('route_not_found');
    if (route.methods && !route.methods.includes(c.req.method as (typeof route.methods)[number])) {
      throw new GatewayError('method_not_allowed', `Method ${c.req.method} is not allowed on this route.`, {
        headers: { allow: route.methods.join(', ') },
      });
    }
    c.set('route', route);
    await next();
  });
}
