// Limit policy resolution: route defaults overridden by the key's own values, turned into
// the concrete counters and budget one request must pass. Pure.

import type { Budget, Limits, Price, Route } from '../config/schema';
import type { KeyRecord } from '../keys/record';
import { modelAllowlist, type ModelAllowlist } from './model-allowlist';
import { ModelTable } from './model-match';
import type { BudgetSpec, CounterSpec } from './store';

export const WINDOWS = { rpm: 60_000, rpd: 86_400_000, tpm: 60_000, tpd: 86_400_000 } as const;
type LimitName = keyof typeof WINDOWS;
const NAMES: readonly LimitName[] = ['rpm', 'rpd', 'tpm', 'tpd'];

export interface EffectivePolicy {
  limits: Limits;
  /** Route and key model_limits merged by configured name (the key's values win per field). */
  modelLimits: ModelTable<Limits>;
  budget: Budget | undefined;
  /** The key's (or owner's) model allowlist; null allows every model. */
  models: ModelAllowlist;
}

export function effectivePolicy(route: Pick<Route, 'limits' | 'model_limits' | 'budget'>, key: KeyRecord): EffectivePolicy {
  // Merged in a Map: configured names are data, and `__proto__` is a name like any other.
  const merged = new Map<string, Limits>();
  for (const [model, l] of new ModelTable(Object.entries(route.model_limits ?? {})).entries()) merged.set(model, { ...l });
  for (const [model, l] of new ModelTable(Object.entries(key.policy.model_limits ?? {})).entries()) merged.set(model, { ...merged.get(model), ...l });
  return {
    limits: { ...route.limits, ...key.policy.limits },
    modelLimits: new ModelTable(merged),
    budget: key.policy.budget ?? route.budget,
    models: modelAllowlist(key.policy.models),
  };
}

/** An owner's own policy: its values only, no route defaults (they are per key). */
export function ownerPolicy(owner: { limits?: Limits; model_limits?: Record<string, Limits>; budget?: Budget; models?: string[] }): EffectivePolicy {
  return { limits: { ...owner.limits }, modelLimits: new ModelTable(Object.entries(owner.model_limits ?? {})), budget: owner.budget, models: modelAllowlist(owner.models) };
}

export function hasAnyLimit(p: EffectivePolicy): boolean {
  return NAMES.some((n) => p.limits[n] !== undefined) || p.modelLimits.size > 0 || p.budget !== undefined;
}

function countersFor(prefix: string, limits: Limits, reservation: number): CounterSpec[] {
  const out: CounterSpec[] = [];
  for (const name of NAMES) {
    const limit = limits[name];
    if (limit === undefined) continue;
    const kind = name.startsWith('r') ? 'requests' : 'tokens';
    out.push({ name: prefix + name, kind, limit, windowMs: WINDOWS[name], cost: kind === 'requests' ? 1 : reservation });
  }
  return out;
}

/**
 * Every counter a request must pass: the key-wide ones, then those of the configured model
 * name the request's model matches. Counters are named after the configured name, never the
 * client's string, so a family (`gpt-4o*`) shares one counter across its members.
 */
export function countersForRequest(p: EffectivePolicy, model: string | null, reservation: number): CounterSpec[] {
  const out = countersFor('', p.limits, reservation);
  const ml = model !== null ? p.modelLimits.match(model) : undefined;
  if (ml) out.push(...countersFor(`model:${ml.key}:`, ml.value, reservation));
  return out;
}

/** Counters to show in usage views: key-wide plus every model with limits (no cost). */
export function countersForUsage(p: EffectivePolicy): CounterSpec[] {
  const out = countersFor('', p.limits, 0);
  for (const [model, l] of p.modelLimits.entries()) out.push(...countersFor(`model:${model}:`, l, 0));
  return out;
}

const pad = (n: number) => String(n).padStart(2, '0');

export function budgetPeriod(period: Budget['period'], now: number): { periodKey: string; resetAt: number | null } {
  const d = new Date(now);
  if (period === 'total') return { periodKey: 'total', resetAt: null };
  if (period === 'day') {
    return { periodKey: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, resetAt: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) };
  }
  return { periodKey: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`, resetAt: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

export const MICROS_PER_USD = 1_000_000;

export function budgetSpec(budget: Budget | undefined, costMicros: number, now: number): BudgetSpec | undefined {
  if (!budget) return undefined;
  return { limitMicros: Math.round(budget.usd * MICROS_PER_USD), period: budget.period, costMicros, ...budgetPeriod(budget.period, now) };
}

/** Price per million tokens in USD = micro-USD per token, so micros = tokens x price. */
export function priceFor(prices: ModelTable<Price>, fallback: Price, model: string | null): Price {
  return (model !== null ? prices.match(model)?.value : undefined) ?? fallback;
}

export function costMicros(price: Price, input: number, output: number): number {
  return Math.ceil(input * price.input + output * price.output);
}

/** A reservation's cost when the input/output split is not yet known: the dearer rate. */
export function reservationCostMicros(price: Price, tokens: number): number {
  return Math.ceil(tokens * Math.max(price.input, price.output));
}
