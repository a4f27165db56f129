// The proxied request path, steps 1-6 in order. Each step is a plain function of the
// request context: one handler instead of a middleware chain keeps the path readable in
// one place and costs no extra promise or dispatch per step (measured: bench/profile.mjs).

import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { authenticate } from './authenticate';
import { forward } from './forward';
import { enforceLimits } from './limits';
import { resolveRoute } from './route';

export async function proxy(c: Context<AppEnv>): Promise<Response> {
  const route = resolveRoute(c); // 1. route (wrangler.toml), methods
  const key = await authenticate(c, route); // 2-3. credential, lookup by digest, access rules
  const admission = await enforceLimits(c, route, key); // 4. revocation marker, limits, budget: one store call
  return forward(c, route, key, admission); // 5-6. stream to the upstream; metering settles after the response
}
