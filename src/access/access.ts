// Access rules for a found key, in the documented order: active, revoked, expired, source IP,
// referer, scopes. Pure: plain inputs, a tagged result.

import type { KeyRecord } from '../keys/record';
import { blockReasonOf } from '../keys/status';
import { cidrContains, parseCidr, parseIp } from './cidr';
import { refererAllowed } from './referer';

export type AccessFailure = 'key_inactive' | 'key_revoked' | 'key_expired' | 'ip_not_allowed' | 'referer_not_allowed' | 'insufficient_scope';
export type AccessResult = { ok: true } | { ok: false; code: AccessFailure; detail?: string };

export interface AccessRequest {
  now: number;
  ip: string | null;
  referer: string | null;
  requiredScopes: readonly string[];
  /** Skip the IP and referer rules (the verify API does not see the caller's own request). */
  skipNetworkRules?: boolean;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const READ: readonly string[] = Object.freeze(['read']);
const WRITE: readonly string[] = Object.freeze(['write']);

/** Scopes a route requires: configured ones, else `read` for safe methods and `write` for others. */
export function requiredScopes(method: string, configured: readonly string[] | undefined): readonly string[] {
  if (configured) return configured;
  return READ_METHODS.has(method) || READ_METHODS.has(method.toUpperCase()) ? READ : WRITE;
}

/** `admin` implies `read` and `write`. */
export function hasScopes(granted: readonly string[], required: readonly string[]): boolean {
  let admin: boolean | undefined;
  for (const s of required) {
    if (granted.includes(s)) continue;
    if (s !== 'read' && s !== 'write') return false;
    if (!(admin ??= granted.includes('admin'))) return false;
  }
  return true;
}

export function ipAllowed(allowlist: readonly string[], ip: string | null): boolean {
  if (allowlist.length === 0) return true;
  const parsed = ip ? parseIp(ip) : null;
  if (!parsed) return false;
  return allowlist.some((entry) => {
    const cidr = parseCidr(entry);
    return cidr !== null && cidrContains(cidr, parsed);
  });
}

export function checkAccess(key: KeyRecord, req: AccessRequest): AccessResult {
  const blocked = blockReasonOf(key, req.now);
  if (blocked !== null) return { ok: false, code: blocked };
  if (!req.skipNetworkRules) {
    if (key.allowed_ips.length > 0 && !ipAllowed(key.allowed_ips, req.ip)) return { ok: false, code: 'ip_not_allowed' };
    if (key.allowed_referers.length > 0 && !refererAllowed(key.allowed_referers, req.referer)) return { ok: false, code: 'referer_not_allowed' };
  }
  if (!hasScopes(key.scopes, req.requiredScopes)) {
    return { ok: false, code: 'insufficient_scope', detail: `requires scopes: ${req.requiredScopes.join(', ')}` };
  }
  return { ok: true };
}
