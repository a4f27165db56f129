// The HTTP side of key authentication outside the proxy: admin-scoped keys, the key-holder
// endpoints (/_keygate/*) and /admin/verify. Builds verifyKey's dependencies from the request
// once, with the revocation-marker read, so every one of them runs the same checks as the
// proxy (whose admission reads the marker together with the limits).

import type { Context } from 'hono';
import type { AccessRequest } from '../access/access';
import type { AppEnv } from '../context';
import { verifyKey, type VerifyResult } from '../keys/verify';
import { checkRevocationMarker } from '../limits/revocation';

export function verifyPresentedKey(c: Context<AppEnv>, presented: string, access: AccessRequest, opts: { marker: boolean } = { marker: true }): Promise<VerifyResult> {
  const services = c.get('services');
  return verifyKey(
    presented,
    {
      prefixes: c.get('config').prefixes,
      store: services.keys,
      backfill: (p) => c.executionCtx.waitUntil(p),
      marker: opts.marker ? (key) => checkRevocationMarker(services, key) : undefined,
    },
    access,
  );
}

/** What the access rules see of a request that presents a key directly. */
export function accessOf(c: Context<AppEnv>, requiredScopes: readonly string[]): AccessRequest {
  return { now: Date.now(), ip: c.req.header('cf-connecting-ip') ?? null, referer: c.req.header('referer') ?? c.req.header('origin') ?? null, requiredScopes };
}
