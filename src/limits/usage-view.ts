// The usage view of a key: every window that applies to it (key values, else route
// defaults; the strictest where routes differ) with limit, used, remaining and reset, and
// its budget. Shared by GET /admin/keys/{id}/usage and GET /_keygate/usage.

import type { LoadedConfig } from '../config/load';
import { counterIdOf, type KeyRecord } from '../keys/record';
import { creditsSpec } from './admission';
import { budgetSpec, countersForUsage, effectivePolicy, MICROS_PER_USD, ownerPolicy } from './policy';
import type { OwnerStore } from '../owners/owner-store';
import { ownerHasLimits, type OwnerRecord } from '../owners/record';
import type { StoreGuard } from './guard';
import type { CounterSpec, LimitStore, UsageSnapshot } from './store';
import type { StoreTimeouts } from './timeouts';

export interface UsageView {
  key_id: string;
  store: LimitStore['kind'];
  windows: { name: string; kind: string; limit: number; used: number; remaining: number; window_seconds: number; reset: string }[];
  budget: { usd: number; period: string; spent_usd: number; remaining_usd: number; reset: string | null } | null;
  /** Keys with credits: the live balance and the next refill. */
  credits?: { remaining: number; refill_at: string | null } | null;
}

export function usagePlan(config: LoadedConfig, key: KeyRecord): { counters: CounterSpec[]; budget: ReturnType<typeof effectivePolicy>['budget'] } {
  const routes = config.ROUTES.length ? config.ROUTES : [{}];
  const byName = new Map<string, CounterSpec>();
  let budget = key.policy.budget;
  for (const route of routes) {
    const policy = effectivePolicy(route, key);
    budget ??= policy.budget;
    for (const c of countersForUsage(policy)) {
      const prev = byName.get(c.name);
      if (!prev || c.limit < prev.limit) byName.set(c.name, c);
    }
  }
  return { counters: [...byName.values()], budget };
}

export function presentUsage(keyId: string, store: LimitStore['kind'], snap: UsageSnapshot): UsageView {
  return { key_id: keyId, ...presentSnapshot(store, snap) };
}

/** An owner's usage: the same shape as a key's, named by owner. */
export interface OwnerUsageView extends Omit<UsageView, 'key_id'> {
  owner: string;
}

function presentSnapshot(store: LimitStore['kind'], snap: UsageSnapshot): Omit<UsageView, 'key_id'> {
  return {
    store,
    windows: snap.counters.map((c) => ({
      name: c.name,
      kind: c.kind,
      limit: c.limit,
      used: c.used,
      remaining: c.remaining,
      window_seconds: c.windowMs / 1000,
      reset: new Date(c.resetAt).toISOString(),
    })),
    budget: snap.budget
      ? {
          usd: snap.budget.limitMicros / MICROS_PER_USD,
          period: snap.budget.period,
          spent_usd: snap.budget.spentMicros / MICROS_PER_USD,
          remaining_usd: snap.budget.remainingMicros / MICROS_PER_USD,
          reset: snap.budget.resetAt === null ? null : new Date(snap.budget.resetAt).toISOString(),
        }
      : null,
    ...(snap.credits ? { credits: { remaining: snap.credits.remaining, refill_at: snap.credits.refillAt === null ? null : new Date(snap.credits.refillAt).toISOString() } } : {}),
  };
}

/**
 * `ownerLimited`: the key's owner has limits, so the key's counters live in the owner's shard.
 */
export async function readUsage(config: LoadedConfig, store: LimitStore, key: KeyRecord, now = Date.now(), ownerLimited = false): Promise<UsageView> {
  const plan = usagePlan(config, key);
  const owner = ownerLimited && key.owner !== null ? key.owner : undefined;
  const snap = await store.usage(counterIdOf(key), plan.counters, budgetSpec(plan.budget, 0, now), now, owner, creditsSpec(key.policy.credits, 0, now));
  return presentUsage(key.id, store.kind, snap);
}

/** An owner's own windows (its limits and model limits) and budget. */
export async function readOwnerUsage(store: LimitStore, owner: OwnerRecord, now = Date.now()): Promise<OwnerUsageView> {
  const policy = ownerPolicy(owner.policy);
  const snap = await store.ownerUsage(owner.owner, countersForUsage(policy), budgetSpec(policy.budget, 0, now), now);
  return { owner: owner.owner, ...presentSnapshot(store.kind, snap) };
}

/** The usage view behind the store guard; null when the store failed or timed out. */
export async function readUsageGuarded(
  deps: { limits: LimitStore; guard: StoreGuard; timeouts: StoreTimeouts; owners: OwnerStore },
  config: LoadedConfig,
  key: KeyRecord,
  now = Date.now(),
): Promise<UsageView | null> {
  const owner = key.owner === null ? null : await deps.owners.lookup(key.owner);
  const ownerLimited = owner !== null && ownerHasLimits(owner.policy);
  const guarded = await deps.guard.run('usage', deps.timeouts.usage, () => readUsage(config, deps.limits, key, now, ownerLimited));
  return guarded.ok ? guarded.value : null;
}
