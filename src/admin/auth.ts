// Admin authentication: `Authorization: Bearer <ADMIN_TOKEN>` (constant-time compare) or a
// key with the `admin` scope. Fails closed: with no ADMIN_TOKEN set only admin keys work.

import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { emitUse } from '../events/request-event';
import { parseKey } from '../keys/key-format';
import { verifyKey } from '../keys/verify';
import { checkRevocationMarker } from '../limits/revocation';
import { timingSafeEqualStrings } from '../lib/timing-safe';

export function adminAuth() {
  return createMiddleware<AppEnv>(async function adminAuth(c, next) {
    const header = c.req.header('authorization') ?? '';
    const match = /^bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new GatewayError('unauthorized');
    const presented = match[1];

    const config = c.get('config');
    if (parseKey(presented, config.prefixes).ok) {
      const result = await verifyKey(
        presented,
        { prefixes: config.prefixes, store: c.get('services').keys, backfill: (p) => c.executionCtx.waitUntil(p) },
        { now: Date.now(), ip: c.req.header('cf-connecting-ip') ?? null, referer: c.req.header('referer') ?? null, requiredScopes: ['admin'] },
      );
      if (!result.ok) {
        if (result.code === 'invalid_key') throw new GatewayError('unauthorized');
        if (result.code === 'insufficient_scope') throw new GatewayError('forbidden', 'This key lacks the admin scope.');
        throw new GatewayError(result.code);
      }
      // Admin keys fail closed: a key revoked in another isolate is refused here at once too.
      const marker = await checkRevocationMarker(c.get('services'), result.key.id);
      if (!marker.ok) throw new GatewayError(marker.reason);
      c.set('actor', result.key.id);
      emitUse(c, result.key.id, 'admin');
      return next();
    }

    const token = c.env.ADMIN_TOKEN;
    if (!token || !(await timingSafeEqualStrings(presented, token))) throw new GatewayError('unauthorized');
    c.set('actor', 'admin_token');
    return next();
  });
}
