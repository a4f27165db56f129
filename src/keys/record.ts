// The key record: what D1 holds (system of record), what KV caches as a snapshot, and the
// redacted form the admin API returns. Plain data, no HTTP.

import type { Budget, Credits, Limits } from '../config/schema';
import { redactedKey } from './key-format';
import { keyStatus } from './status';

export const KEY_TYPES = ['user', 'service', 'system'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** Per-key limit policy; route defaults fill what a key leaves out. */
export interface KeyPolicy {
  limits?: Limits;
  model_limits?: Record<string, Limits>;
  budget?: Budget;
  /** Model allowlist (names or `*` families); absent or empty allows every model. */
  models?: string[];
  /** Prepaid credits: the starting balance and its refill (the live balance is in the limit store). */
  credits?: Credits;
  /** In-flight requests at once (leases in the limit store). */
  max_concurrent?: number;
}

export interface KeyRecord {
  id: string;
  digest: string;
  prefix: string;
  start: string;
  end: string;
  name: string;
  description: string;
  owner: string | null;
  type: KeyType;
  scopes: string[];
  tags: string[];
  metadata: Record<string, unknown>;
  allowed_ips: string[];
  allowed_referers: string[];
  policy: KeyPolicy;
  expires_at: number | null;
  is_active: boolean;
  revoked_at: number | null;
  revoked_reason: string | null;
  last_used_at: number | null;
  created_at: number;
  updated_at: number;
  /** Set on a key replaced by rotation: the id of its successor. */
  rotated_to: string | null;
  /**
   * The id its limit windows and budget are counted under; null = its own id. A rotation
   * successor inherits its predecessor's, so rotation never resets what was spent. (Absent
   * in KV snapshots written before the field existed: read it with counterIdOf.)
   */
  counter_id?: string | null;
}

/** Where the limit store counts a key's windows and budget (its marker stays under its id). */
export function counterIdOf(r: Pick<KeyRecord, 'id' | 'counter_id'>): string {
  return r.counter_id ?? r.id;
}

// Clamped to what Date can hold, so a row written before the API bounded expiries (or by hand)
// still lists instead of throwing a RangeError.
const MAX_DATE_MS = 8.64e15;
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(Math.min(Math.max(ms, -MAX_DATE_MS), MAX_DATE_MS)).toISOString());

/** The admin/API view of a key: never the digest, never the plaintext. */
export function presentKey(record: KeyRecord, now = Date.now()) {
  return {
    id: record.id,
    display: redactedKey(record.prefix, record.start, record.end),
    prefix: record.prefix,
    start: record.start,
    end: record.end,
    name: record.name,
    description: record.description,
    owner: record.owner,
    type: record.type,
    scopes: record.scopes,
    tags: record.tags,
    metadata: record.metadata,
    allowed_ips: record.allowed_ips,
    allowed_referers: record.allowed_referers,
    limits: record.policy.limits ?? null,
    model_limits: record.policy.model_limits ?? null,
    budget: record.policy.budget ?? null,
    models: record.policy.models ?? [],
    credits: record.policy.credits ?? null,
    max_concurrent: record.policy.max_concurrent ?? null,
    status: keyStatus(record, now),
    is_active: record.is_active,
    expires_at: iso(record.expires_at),
    revoked_at: iso(record.revoked_at),
    revoked_reason: record.revoked_reason,
    last_used_at: iso(record.last_used_at),
    created_at: iso(record.created_at) as string,
    updated_at: iso(record.updated_at) as string,
    rotated_to: record.rotated_to,
  };
}
