// The usage view of a key: every window that applies to it (key values, else route
// defaults; the strictest where routes differ) with limit, used, remaining and reset, and
// its budget. Shared by GET /admin/keys/{id}/usage and GET /_keygate/usage.

import type { LoadedConfig } from '../config/load';
import { counterIdOf, type KeyRecord } from '../keys/record';
import { budgetSpec, countersForUsage, effectivePolicy, MICROS_PER_USD } from './policy';
import type { StoreGuard } from './guard';
import type { CounterSpec, LimitStore, UsageSnapshot } from './store';
import type { StoreTimeouts } from './timeouts';

export interface UsageView {
  key_id: string;
  store: LimitStore['kind'];
  windows: { name: string; kind: string; limit: number; used: number; remaining: number; window_seconds: number; reset: string }[];
  budget: { usd: number; period: string; spent_usd: number; remaining_usd: number; reset: string | null } | null;
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
  return {
    key_id: keyId,
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
  };
}

export async function readUsage(config: LoadedConfig, store: LimitStore, key: KeyRecord, now = Date.now()): Promise<UsageView> {
  const plan = usagePlan(config, key);
  const snap = await store.usage(counterIdOf(key), plan.counters, budgetSpec(plan.budget, 0, now), now);
  return presentUsage(key.id, store.kind, snap);
}

/** The usage view behind the store guard; null when the store failed or timed out. */
export async function readUsageGuarded(
  deps: { limits: LimitStore; guard: StoreGuard; timeouts: StoreTimeouts },
  config: LoadedConfig,
  key: KeyRecord,
  now = Date.now(),
): Promise<UsageView | null> {
  const guarded = await deps.guard.run('usage', deps.timeouts.usage, () => readUsage(config, deps.limits, key, now));
  return guarded.ok ? guarded.value : null;
}
