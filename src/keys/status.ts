// The one key-state rule: whether a key may be used, why not, the status the admin API shows,
// and the same conditions as SQL for D1 queries. Every entry point (proxy access check, admin
// changes, markers, the fresh check when the limit store is down, listings, the owner cap)
// asks this module.
//
// A key is usable when it is not revoked, is active and has not expired. Two orders rank the
// reasons when several hold, each kept as the API has always answered:
// - a refusal (BlockReason) names revocation, then deactivation, then expiry: an admin's
//   explicit act outranks the clock;
// - a status (KeyStatus, what listings filter by) shows revoked, then expired, then
//   inactive/active: an expired key stays expired whatever its active flag.

export type KeyStatus = 'active' | 'inactive' | 'revoked' | 'expired';

/** Why a key cannot be used; also the revocation marker's value (`invalid_key` = deleted). */
export type BlockReason = 'key_revoked' | 'key_inactive' | 'key_expired' | 'invalid_key';
export const BLOCK_REASONS: readonly BlockReason[] = ['key_revoked', 'key_inactive', 'key_expired', 'invalid_key'];

/** What the rule reads of a key (a KeyRecord has these fields). */
export interface KeyState {
  revoked_at: number | null;
  is_active: boolean;
  expires_at: number | null;
}

/** Why an existing key cannot be used at `now`, or null when it can. */
export function blockReasonOf(r: KeyState, now: number): Exclude<BlockReason, 'invalid_key'> | null {
  if (r.revoked_at !== null) return 'key_revoked';
  if (!r.is_active) return 'key_inactive';
  if (r.expires_at !== null && r.expires_at <= now) return 'key_expired';
  return null;
}

export function isUsable(r: KeyState, now: number): boolean {
  return blockReasonOf(r, now) === null;
}

export function keyStatus(r: KeyState, now: number): KeyStatus {
  if (r.revoked_at !== null) return 'revoked';
  if (r.expires_at !== null && r.expires_at <= now) return 'expired';
  return r.is_active ? 'active' : 'inactive';
}

/** SQL for a status over the `keys` columns (prefixed with `alias.` when given), and how many `now` parameters it binds. */
export function statusSql(status: KeyStatus, alias = ''): { sql: string; binds: 0 | 1 } {
  const col = alias ? `${alias}.` : '';
  const notExpired = `(${col}expires_at IS NULL OR ${col}expires_at > ?)`;
  switch (status) {
    case 'revoked':
      return { sql: `${col}revoked_at IS NOT NULL`, binds: 0 };
    case 'expired':
      return { sql: `${col}revoked_at IS NULL AND ${col}expires_at IS NOT NULL AND ${col}expires_at <= ?`, binds: 1 };
    case 'inactive':
      return { sql: `${col}revoked_at IS NULL AND ${col}is_active = 0 AND ${notExpired}`, binds: 1 };
    case 'active':
      return { sql: `${col}revoked_at IS NULL AND ${col}is_active = 1 AND ${notExpired}`, binds: 1 };
  }
}
