// A key's prepaid credit balance: what the store's stored balance and period mean for a
// request priced in a given refill period, and how an admin change moves it. Both stores
// (durable-object.ts, upstash-store.ts with its scripts) compute balances with these rules.

import type { CreditsChange, CreditsSpec, CreditsState } from './store';

/**
 * Whether a balance stored under `storedPeriod` belongs to a refill period before `periodKey`.
 * A request's period is fixed when it is priced, before the store sees it, so around a
 * boundary requests of the old period can arrive after ones of the new: only a strictly
 * earlier period refills, or every flip of the stored period would refill the balance again.
 * Keys of one interval sort as dates; a key of the other interval (the refill was changed)
 * or none ('') counts as earlier. The Upstash scripts apply the same rule.
 */
export function refillDue(storedPeriod: string, periodKey: string): boolean {
  return storedPeriod.length !== periodKey.length || storedPeriod < periodKey;
}

/**
 * A key's credit balance from what the store holds (null: nothing yet): the initial balance,
 * or the refill amount once a new refill period has begun. Both stores compute it so.
 */
export function creditsBalance(spec: CreditsSpec, stored: { remaining: number; period: string } | null): number {
  if (stored === null) return spec.initial;
  if (spec.refill && refillDue(stored.period, spec.refill.periodKey)) return spec.refill.amount;
  return stored.remaining;
}

/**
 * The period a balance is stored under: the refill period, or '' without refills. A stored
 * period later than the request's stays (see refillDue).
 */
export function creditsPeriod(spec: CreditsSpec, stored: { period: string } | null = null): string {
  if (!spec.refill) return '';
  return stored !== null && !refillDue(stored.period, spec.refill.periodKey) ? stored.period : spec.refill.periodKey;
}

export function creditsStateOf(spec: CreditsSpec, remaining: number): CreditsState {
  return { remaining: Math.max(0, remaining), refillAt: spec.refill?.resetAt ?? null };
}

/** A balance after an admin change, within [0, max]. */
export function changedBalance(current: number, change: CreditsChange, max: number): number {
  const next = 'add' in change ? current + change.add : change.set;
  return Math.min(Math.max(0, next), max);
}
