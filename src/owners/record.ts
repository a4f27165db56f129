// The owner record: an owner (the `owner` string keys carry) as a limit holder of its own.
// Its windows, model windows and budget are shared by every key it owns and counted beside
// each key's own. Plain data, no HTTP.

import type { Budget, Limits } from '../config/schema';

export interface OwnerPolicy {
  limits?: Limits;
  model_limits?: Record<string, Limits>;
  budget?: Budget;
  /** Model allowlist for every key of the owner; absent allows every model. */
  models?: string[];
  /** In-flight requests across all of the owner's keys. */
  max_concurrent?: number;
}

export interface OwnerRecord {
  owner: string;
  policy: OwnerPolicy;
  created_at: number;
  updated_at: number;
}

const LIMIT_NAMES = ['rpm', 'rpd', 'tpm', 'tpd'] as const;

/** Whether the owner's policy limits anything the store counts (only then are its keys counted in its shard). */
export function ownerHasLimits(p: OwnerPolicy): boolean {
  const l = p.limits;
  return (
    (l !== undefined && LIMIT_NAMES.some((n) => l[n] !== undefined)) ||
    (p.model_limits !== undefined && Object.keys(p.model_limits).length > 0) ||
    p.budget !== undefined ||
    p.max_concurrent !== undefined
  );
}

/** The admin view of an owner. */
export function presentOwner(r: OwnerRecord) {
  return {
    owner: r.owner,
    limits: r.policy.limits ?? null,
    model_limits: r.policy.model_limits ?? null,
    budget: r.policy.budget ?? null,
    models: r.policy.models ?? [],
    max_concurrent: r.policy.max_concurrent ?? null,
    created_at: new Date(r.created_at).toISOString(),
    updated_at: new Date(r.updated_at).toISOString(),
  };
}
