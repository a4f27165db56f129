// x-gateway-identity: a short-lived JWT keygate signs for the upstream on routes with
// `identity_jwt`, so the upstream can trust who called without trusting the network path.
// Claims: sub (key id), owner, scopes, key_type, aud (the route's upstream origin), iss
// (IDENTITY_ISSUER or the gateway's URL), iat, exp (60 s). A token is reused per key, route
// and issuer for most of its lifetime, so signing is rare on the request path.

import { SignJWT } from 'jose';
import { LruCache } from '../lib/lru';
import type { KeyRecord } from '../keys/record';
import { identitySigner } from './signing-key';

export const IDENTITY_TOKEN_LIFETIME_S = 60;
// Reused while at least 20 s of its life are left: an upstream always gets a token it can
// verify after the request's own latency. From 30 s on, a request that reuses it also mints
// the next one after its response, so a key in steady use never waits for a signature.
const REUSE_MS = 40_000;
const REFRESH_MS = 30_000;

interface Cached {
  token: string;
  updatedAt: number;
  mintedAt: number;
  refreshing: boolean;
}

const tokens = new LruCache<string, Cached>(10_000, REUSE_MS);
// The audience of each upstream URL (a route's upstream is a parsed-config string).
const audiences = new LruCache<string, string>(1_000, 3_600_000);

function audienceOf(upstream: string): string {
  let aud = audiences.get(upstream);
  if (aud === undefined) audiences.set(upstream, (aud = new URL(upstream).origin));
  return aud;
}

export interface IdentityInput {
  env: { IDENTITY_SIGNING_KEY?: unknown; IDENTITY_SIGNING_KEY_PREVIOUS?: unknown };
  issuer: string;
  routePath: string;
  upstream: string;
  key: KeyRecord;
  now: number;
  /** Runs work after the response (ctx.waitUntil): the early re-mint. */
  background?: (work: Promise<unknown>) => void;
}

/**
 * The identity token for this key on this route: the cached one as a plain string (no
 * promise on the common path), else a promise of a new one, which rejects with
 * IdentityKeyError when unconfigured.
 */
export function identityToken(input: IdentityInput): string | Promise<string> {
  const { key, issuer } = input;
  const cacheKey = `${key.id}\n${input.routePath}\n${issuer}`;
  const cached = tokens.get(cacheKey, input.now);
  // A changed key (owner, scopes, type) is a newer record: its claims must not be stale.
  if (cached && cached.updatedAt === key.updated_at) {
    if (input.background && !cached.refreshing && input.now - cached.mintedAt >= REFRESH_MS) {
      cached.refreshing = true;
      input.background(mint(input, cacheKey).catch(() => (cached.refreshing = false)));
    }
    return cached.token;
  }
  return mint(input, cacheKey);
}

async function mint(input: IdentityInput, cacheKey: string): Promise<string> {
  const { key, issuer } = input;
  const signer = await identitySigner(input.env);
  const iat = Math.floor(input.now / 1000);
  const token = await new SignJWT({ owner: key.owner, scopes: key.scopes, key_type: key.type })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' })
    .setSubject(key.id)
    .setAudience(audienceOf(input.upstream))
    .setIssuer(issuer)
    .setIssuedAt(iat)
    .setExpirationTime(iat + IDENTITY_TOKEN_LIFETIME_S)
    .sign(signer.key);
  tokens.set(cacheKey, { token, updatedAt: key.updated_at, mintedAt: input.now, refreshing: false }, REUSE_MS, input.now);
  return token;
}
