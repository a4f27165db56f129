// Admin authentication: `Authorization: Bearer <ADMIN_TOKEN>` (constant-time compare) or a
// key with the `admin` scope (the same key checks as the proxy, revocation marker included).
// Fails closed: with no ADMIN_TOKEN set only admin keys work. Failed attempts are throttled
// per client IP (auth-throttle.ts). After a successful authentication, admin changes whose
// snapshot or marker is still pending are retried after the response.

import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { emitUse } from '../events/request-event';
import { parseKey } from '../keys/key-format';
import { timingSafeEqualStrings } from '../lib/timing-safe';
import { recordFailure, throttledFor } from '../admin/auth-throttle';
import { drainPending } from '../admin/key-lifecycle';
import { accessOf, verifyPresentedKey } from './key-auth';

async function authenticateAdmin(c: Context<AppEnv>): Promise<string> {
  const header = c.req.header('authorization') ?? '';
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new GatewayError('unauthorized');
  const presented = match[1];

  if (parseKey(presented, c.get('config').prefixes).ok) {
    const result = await verifyPresentedKey(c, presented, accessOf(c, ['admin']));
    if (!result.ok) {
      if (result.code === 'invalid_key') throw new GatewayError('unauthorized');
      if (result.code === 'insufficient_scope') throw new GatewayError('forbidden', 'This key lacks the admin scope.');
      throw new GatewayError(result.code);
    }
    emitUse(c, result.key.id, 'admin');
    return result.key.id;
  }

  const token = c.env.ADMIN_TOKEN;
  if (!token || !(await timingSafeEqualStrings(presented, token))) throw new GatewayError('unauthorized');
  return 'admin_token';
}

export function adminAuth() {
  return createMiddleware<AppEnv>(async function adminAuth(c, next) {
    const ip = c.req.header('cf-connecting-ip') ?? null;
    const wait = throttledFor(ip);
    if (wait > 0) throw new GatewayError('rate_limited', 'Too many failed admin authentications from this address; retry later.', { headers: { 'retry-after': String(wait) } });
    let actor: string;
    try {
      actor = await authenticateAdmin(c);
    } catch (error) {
      // An outage of the limit store is not a failed authentication.
      if (!(error instanceof GatewayError) || error.code !== 'store_unavailable') recordFailure(ip);
      throw error;
    }
    c.set('actor', actor);
    // Not on /verify: services may call it per request of their own, and it changes nothing.
    if (!c.req.path.endsWith('/verify')) c.executionCtx.waitUntil(drainPending(c));
    return next();
  });
}
