// Admin sign-in through an identity provider: a JWT from ADMIN_JWT_ISSUER for
// ADMIN_JWT_AUDIENCE, signed by a key in ADMIN_JWKS_URL, read from `Authorization: Bearer` or
// Cloudflare Access's `Cf-Access-Jwt-Assertion`. Issuer, audience, expiry and algorithm
// (asymmetric only) are enforced. The role comes from the claim ADMIN_JWT_ROLES_CLAIM:
// `admin` may do everything, `viewer` may only read, anything else is refused.
//
// The JWKS is cached per URL and fetched again for a `kid` it does not hold (the provider
// rotated), at most once a second per URL, so made-up kids cannot flood the provider.

import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet } from 'jose';

export type AdminRole = 'admin' | 'viewer';

export interface IdpSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
  rolesClaim: string;
}

export type IdpResult =
  | { ok: true; subject: string; role: AdminRole }
  | { ok: false; code: 'unauthorized' | 'forbidden' | 'store_unavailable'; detail: string };

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const JWKS_TTL_MS = 10 * 60_000;
const REFETCH_MIN_MS = 1_000;
const MAX_JWKS_URLS = 8;
const FETCH_TIMEOUT_MS = 5_000;
// Printable ASCII: the subject becomes the audit log's actor.
const SUBJECT = /^[\x21-\x7e]{1,200}$/;

interface CachedSet {
  verify: ReturnType<typeof createLocalJWKSet>;
  kids: Set<string>;
  fetchedAt: number;
}

const sets = new Map<string, CachedSet>();
const fetching = new Map<string, Promise<CachedSet>>();

async function fetchSet(url: string): Promise<CachedSet> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`JWKS answered ${res.status}`);
  const jwks = (await res.json()) as JSONWebKeySet;
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error('not a JWKS');
  const set = { verify: createLocalJWKSet(jwks), kids: new Set(jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === 'string')), fetchedAt: Date.now() };
  if (!sets.has(url) && sets.size >= MAX_JWKS_URLS) sets.delete(sets.keys().next().value as string);
  sets.set(url, set);
  return set;
}

function refresh(url: string): Promise<CachedSet> {
  let pending = fetching.get(url);
  if (!pending) {
    pending = fetchSet(url).finally(() => fetching.delete(url));
    fetching.set(url, pending);
  }
  return pending;
}

/** The key set for a token's kid: cached, refetched when stale or when it lacks the kid. */
async function keySetFor(url: string, kid: string | undefined, now: number): Promise<CachedSet> {
  const cached = sets.get(url);
  if (!cached || now - cached.fetchedAt > JWKS_TTL_MS) return refresh(url);
  if (kid !== undefined && !cached.kids.has(kid) && now - cached.fetchedAt >= REFETCH_MIN_MS) return refresh(url);
  return cached;
}

function kidOf(token: string): string | undefined {
  try {
    const header = JSON.parse(atob((token.split('.')[0] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

function roleOf(claim: unknown): AdminRole | null {
  const roles = typeof claim === 'string' ? claim.split(/[\s,]+/) : Array.isArray(claim) ? claim : [];
  if (roles.includes('admin')) return 'admin';
  if (roles.includes('viewer')) return 'viewer';
  return null;
}

const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Whether a bearer value is shaped like a JWT (keys and the admin token never are). */
export function looksLikeJwt(value: string): boolean {
  return value.length <= 16_384 && COMPACT.test(value);
}

export async function verifyAdminJwt(token: string, settings: IdpSettings, now = Date.now()): Promise<IdpResult> {
  if (!looksLikeJwt(token)) return { ok: false, code: 'unauthorized', detail: 'The token is not a JWT.' };
  let set: CachedSet;
  try {
    set = await keySetFor(settings.jwksUrl, kidOf(token), now);
  } catch {
    return { ok: false, code: 'store_unavailable', detail: "The identity provider's keys could not be fetched." };
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, set.verify, {
      issuer: settings.issuer,
      audience: settings.audience,
      algorithms: ALGORITHMS,
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(now),
    }));
  } catch (error) {
    const detail = error instanceof errors.JWTExpired ? 'The token has expired.' : error instanceof errors.JWTClaimValidationFailed ? `The token's ${error.claim} claim is not accepted.` : 'The token is not valid.';
    return { ok: false, code: 'unauthorized', detail };
  }
  const subject = payload.sub;
  if (typeof subject !== 'string' || !SUBJECT.test(subject)) return { ok: false, code: 'unauthorized', detail: 'The token has no usable sub claim.' };
  const role = roleOf(Object.hasOwn(payload, settings.rolesClaim) ? payload[settings.rolesClaim] : undefined);
  if (role === null) return { ok: false, code: 'forbidden', detail: `The token's ${settings.rolesClaim} claim grants neither admin nor viewer.` };
  return { ok: true, subject, role };
}
