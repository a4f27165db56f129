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
import { looksLikeJwt, verifyAdminJwt } from '../admin/idp-auth';

// A viewer may read: these are the only requests that change nothing (POST /keys/find reads).
const isRead = (method: string, path: string) => method === 'GET' || method === 'HEAD' || (method === 'POST' && path.endsWith('/keys/find'));

/** Admin sign-in through the identity provider, when ADMIN_JWT_ISSUER, _AUDIENCE and ADMIN_JWKS_URL are set. */
async function authenticateIdp(c: Context<AppEnv>, token: string): Promise<string> {
  const config = c.get('config');
  const result = await verifyAdminJwt(token, {
    issuer: config.ADMIN_JWT_ISSUER as string,
    audience: config.ADMIN_JWT_AUDIENCE as string,
    jwksUrl: config.ADMIN_JWKS_URL as string,
    rolesClaim: config.ADMIN_JWT_ROLES_CLAIM,
  });
  if (!result.ok) throw new GatewayError(result.code, result.detail, result.code === 'store_unavailable' ? { headers: { 'retry-after': '5' } } : {});
  if (result.role === 'viewer' && !isRead(c.req.method, c.req.path)) throw new GatewayError('forbidden', 'The viewer role may read but not change anything.');
  // The audit log names the person: the token's subject.
  return result.subject;
}

async function authenticateAdmin(c: Context<AppEnv>): Promise<string> {
  const header = c.req.header('authorization') ?? '';
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  const config = c.get('config');
  if (config.ADMIN_JWT_ISSUER && config.ADMIN_JWT_AUDIENCE && config.ADMIN_JWKS_URL) {
    if (match?.[1] && looksLikeJwt(match[1])) return authenticateIdp(c, match[1]);
    // Cloudflare Access puts its token in this header; an explicit Authorization wins.
    const access = header === '' ? c.req.header('cf-access-jwt-assertion') : undefined;
    if (access) return authenticateIdp(c, access.trim());
  }
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
