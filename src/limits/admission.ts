// Admission: the limit rules of one proxied request, as plain data. The request's facts and
// the key's policy become the store's AdmitInput; the store's outcome (or its failure) becomes
// a refusal (code, message, headers, details) or an admission (headers to add, and what to
// settle once the response's usage is known). The gateway's limits step reads the body, calls
// the store and maps a Refusal to its GatewayError; every limit refusal's wording lives here.
//
// The warm path (a route with limits, the store answering "admitted") allocates what the
// store call needs and nothing more: refusals are built only when refusing.

import type { LoadedConfig } from '../config/load';
import type { Credits, Price, Route } from '../config/schema';
import type { ErrorCode } from '../errors';
import { counterIdOf, type KeyRecord } from '../keys/record';
import { admittedTokens, chargeFor, type ReservationPlan } from '../usage/charge';
import type { TokenUsage, UsageReading } from '../usage/types';
import { boundAdmitInput } from './admit-input';
import { budgetHeaders, rateLimitHeaders, retryAfterSeconds } from './headers';
import { budgetPeriod, budgetSpec, costMicros, countersForRequest, hasAnyLimit, priceFor, reservationCostMicros, type EffectivePolicy } from './policy';
import type { MarkerCheck } from './revocation';
import type { AdmitInput, AdmitOutcome, CounterState, CreditsSpec, CreditsState, Settlement } from './store';

/** Why a request is refused, ready to become an error response. */
export interface Refusal {
  ok: false;
  code: ErrorCode;
  /** The error table's message when unset. */
  message?: string;
  headers?: Record<string, string>;
  details?: Record<string, unknown>;
}

/** What the store is asked, and what the settlement after the response needs of it. */
export interface AdmissionPlan {
  ok: true;
  input: AdmitInput;
  plan: ReservationPlan;
  price: Price;
  /** Tokens reserved at admission. */
  reservation: number;
  /** Micro-USD reserved at admission. */
  reservedMicros: number;
}

/** The most a route without metering reads to find the model of a request with model limits. */
export const MODEL_BODY_BYTES = 1024 * 1024;

const NO_PLAN: ReservationPlan = Object.freeze({ input: 0, admitOutput: 0, fullOutput: 0 });

/**
 * Whether this request asks the store for nothing but the key's revocation marker: no
 * window, budget, credits, lease or owner applies, the request is not signed (its token id
 * must reach the store), and the route checks the marker.
 * (planAdmission's input is then marker-only; the gateway may skip it within the route's
 * revocation_max_staleness_ms.)
 */
export function onlyTheMarker(
  route: Pick<Route, 'instant_revocation'>,
  key: KeyRecord,
  policy: EffectivePolicy,
  owner: OwnerLimits | null,
  replay?: AdmitInput['replay'],
): boolean {
  return route.instant_revocation && owner === null && replay === undefined && key.policy.credits === undefined && key.policy.max_concurrent === undefined && !hasAnyLimit(policy);
}

/**
 * The store input for this request, a refusal when its amounts cannot be computed, or null
 * when nothing needs the store (no limit applies, the route skips the revocation marker and
 * the request is not signed). A signed request's token id (`replay`) is checked in the same
 * admission, so it always asks the store.
 */
export function planAdmission(
  route: Pick<Route, 'instant_revocation'> & Partial<Pick<Route, 'cost'>>,
  key: KeyRecord,
  policy: EffectivePolicy,
  config: Pick<LoadedConfig, 'prices' | 'DEFAULT_PRICE'>,
  model: string | null,
  plan: ReservationPlan | undefined,
  now: number,
  owner: OwnerLimits | null = null,
  replay?: AdmitInput['replay'],
): AdmissionPlan | Refusal | null {
  const credits = creditsSpec(key.policy.credits, route.cost ?? 1, now);
  const keyMax = key.policy.max_concurrent;
  const ownerMax = owner?.maxConcurrent;
  const lease = keyMax !== undefined || ownerMax !== undefined ? { id: crypto.randomUUID(), expiresAt: now + LEASE_TTL_MS, keyMax, ownerMax } : undefined;
  if (!hasAnyLimit(policy) && !route.instant_revocation && owner === null && credits === undefined && lease === undefined && replay === undefined) return null;
  const reservationPlan = plan ?? NO_PLAN;
  const reservation = admittedTokens(reservationPlan);
  const price = priceFor(config.prices, config.DEFAULT_PRICE, model);
  const reservedMicros = reservationCostMicros(price, reservation);
  // Amounts are bounded and checked before the store: a bad number is this request's problem,
  // never a store failure that would count towards the breaker.
  const input = boundAdmitInput({
    keyId: key.id,
    counterId: counterIdOf(key),
    counters: countersForRequest(policy, model, reservation),
    budget: budgetSpec(policy.budget, reservedMicros, now),
    ...(credits ? { credits } : {}),
    ...(lease ? { lease } : {}),
    ...(owner ? { owner: { id: owner.id, counters: countersForRequest(owner.policy, model, reservation), budget: budgetSpec(owner.policy.budget, reservedMicros, now) } } : {}),
    now,
    replay,
  });
  if (typeof input === 'string') return { ok: false, code: 'internal_error', message: `The admission could not be computed (${input}).` };
  return { ok: true, input, plan: reservationPlan, price, reservation, reservedMicros };
}

/** An owner with limits of its own (src/owners): its windows and budget count beside the key's. */
export interface OwnerLimits {
  id: string;
  policy: EffectivePolicy;
  maxConcurrent?: number;
}

/**
 * How long a lease holds a slot when its release never comes (the isolate died): longer than
 * any request should stream, short enough that a lost slot comes back.
 */
export const LEASE_TTL_MS = 15 * 60_000;

/** The store refused the input itself (a request fault, not an outage). */
export const REJECTED_BY_STORE: Refusal = Object.freeze({ ok: false, code: 'internal_error' });

const STORE_CLOSED: Refusal = Object.freeze({
  ok: false,
  code: 'store_unavailable',
  message: 'The limit store is unavailable; this route fails closed.',
  headers: Object.freeze({ 'retry-after': '1' }) as Record<string, string>,
});

const SIGNED_STORE_CLOSED: Refusal = Object.freeze({
  ok: false,
  code: 'store_unavailable',
  message: 'The limit store is unavailable; signed requests fail closed.',
  headers: Object.freeze({ 'retry-after': '1' }) as Record<string, string>,
});

/**
 * The route's failure policy when the store is down: a refusal, or null to admit without
 * counting (after a fresh revocation check). Budgets fail closed by default; `requests`
 * covers the request windows and the revocation marker, so it applies on every route.
 * Signed requests always fail closed: without the store nothing can tell a replayed token
 * from a fresh one.
 */
export function whenStoreDown(onStoreError: Route['on_store_error'], input: AdmitInput): Refusal | null {
  if (input.replay !== undefined) return SIGNED_STORE_CLOSED;
  const closed = ((input.budget !== undefined || input.owner?.budget !== undefined) && onStoreError.budget === 'closed') || onStoreError.requests === 'closed';
  return closed ? STORE_CLOSED : null;
}

/** A failed fresh revocation check (store down, failing open) as a refusal. */
export function freshCheckRefusal(check: Extract<MarkerCheck, { ok: false }>): Refusal {
  if (check.reason === 'store_unavailable') return { ok: false, code: 'store_unavailable', message: 'The limit store and the key store are unavailable.' };
  return { ok: false, code: check.reason };
}

/**
 * A store answer other than "admitted" as a refusal. `llm` selects the OpenAI-style limit
 * headers (token-metered routes) beside the IETF ones.
 */
export function refusalOf(outcome: Exclude<AdmitOutcome, { status: 'admitted' }>, now: number, llm: boolean): Refusal {
  switch (outcome.status) {
    case 'blocked':
      return { ok: false, code: outcome.reason };
    case 'too_many_concurrent_requests':
      return {
        ok: false,
        code: 'too_many_concurrent_requests',
        message: `${outcome.holder === 'owner' ? "The key's owner has" : 'This key has'} ${outcome.limit} requests in flight, its max_concurrent.`,
        headers: { 'retry-after': '1' },
        details: { holder: outcome.holder, max_concurrent: outcome.limit },
      };
    case 'credits_exhausted': {
      const at = outcome.credits.refillAt;
      const retry = at === null ? undefined : retryAfterSeconds(at, now);
      return {
        ok: false,
        code: 'credits_exhausted',
        message: at === null ? "The key's credits are spent." : `The key's credits are spent until they refill at ${new Date(at).toISOString()}.`,
        headers: { ...creditsHeaders(outcome.credits), ...(retry ? { 'retry-after': retry } : {}) },
        details: { remaining: outcome.credits.remaining, refill_at: at === null ? null : new Date(at).toISOString() },
      };
    }
    case 'replayed':
      return { ok: false, code: 'token_replayed' };
    case 'rate_limited': {
      const r = outcome.refusedBy;
      return {
        ok: false,
        code: 'rate_limited',
        message: `${outcome.holder === 'owner' ? "The owner's rate" : 'Rate'} limit ${r.name} exceeded (${r.limit} ${r.kind} per ${r.windowMs / 1000}s).`,
        headers: { ...rateLimitHeaders(limitView(outcome.counters, r), now, llm, outcome.budget), 'retry-after': retryAfterSeconds(r.resetAt, now) ?? '1' },
        details: { holder: outcome.holder, limit: r.name, kind: r.kind, limit_value: r.limit, remaining: r.remaining, reset: new Date(r.resetAt).toISOString() },
      };
    }
    case 'budget_exhausted': {
      const b = outcome.budget;
      const retry = retryAfterSeconds(b.resetAt, now);
      return {
        ok: false,
        code: 'budget_exhausted',
        message: `The ${outcome.holder === 'owner' ? "owner's " : ''}${PERIOD_WORD[b.period]} budget of $${formatUsd(b.limitMicros)} is spent.`,
        headers: { ...rateLimitHeaders(outcome.counters, now, llm, b), ...budgetHeaders(b), ...(retry ? { 'retry-after': retry } : {}) },
        details: { holder: outcome.holder, budget_usd: b.limitMicros / 1e6, spent_usd: b.spentMicros / 1e6, period: b.period },
      };
    }
  }
}

/** The limit headers an admitted request's response carries. */
export function admittedHeaders(outcome: Extract<AdmitOutcome, { status: 'admitted' }>, now: number, llm: boolean): Record<string, string> {
  const headers = { ...rateLimitHeaders(outcome.counters, now, llm, outcome.budget), ...budgetHeaders(outcome.budget) };
  return outcome.credits ? { ...headers, ...creditsHeaders(outcome.credits) } : headers;
}

/**
 * What to settle once the response's usage is read: the difference between what was charged
 * (src/usage/charge.ts) and what was reserved, or null when nothing changes. An upstream
 * refusal without usage generated nothing to read: the reservation stands.
 */
export function settlementOf(admission: AdmissionPlan, reading: UsageReading, status: number, now: number): Settlement | null {
  // An upstream error without usage keeps the admission's reservation as it stands.
  if (status >= 400 && !reading.complete) return null;
  const charged = chargeFor(admission.plan, reading);
  const tokenDelta = charged.input + charged.output - admission.reservation;
  const costDeltaMicros = costMicros(admission.price, charged.input, charged.output) - admission.reservedMicros;
  if (tokenDelta === 0 && costDeltaMicros === 0) return null;
  return { tokenDelta, costDeltaMicros, now };
}

/** A key's credits as the store's spec for one request costing `cost`; undefined without credits. */
export function creditsSpec(credits: Credits | undefined, cost: number, now: number): CreditsSpec | undefined {
  if (!credits) return undefined;
  const refill = credits.refill && budgetPeriod(credits.refill.interval, now);
  return {
    cost,
    initial: credits.remaining,
    ...(credits.refill && refill ? { refill: { amount: credits.refill.amount, periodKey: refill.periodKey, resetAt: refill.resetAt as number } } : {}),
  };
}

/** `x-credits-remaining` (and `x-credits-refill-at`) on responses of keys with credits. */
function creditsHeaders(c: CreditsState): Record<string, string> {
  const h: Record<string, string> = { 'x-credits-remaining': String(c.remaining) };
  if (c.refillAt !== null) h['x-credits-refill-at'] = new Date(c.refillAt).toISOString();
  return h;
}

/** A model outside the key's or its owner's allowlist (or none named on a metered route). */
export function modelNotAllowed(model: string | null, holder: 'key' | 'owner'): Refusal {
  const whose = holder === 'owner' ? "this key's owner" : 'this key';
  return {
    ok: false,
    code: 'model_not_allowed',
    message: model === null ? `The request names no model, and ${whose} may call only listed models.` : `The model is not one ${whose} may call.`,
    details: { holder },
  };
}

/**
 * The tokens a metered request is charged in the end: an upstream error without usage keeps
 * the admission's reservation; otherwise the charge rule (src/usage/charge.ts).
 */
export function chargedUsage(admission: AdmissionPlan, reading: UsageReading, status: number): TokenUsage {
  if (status >= 400 && !reading.complete) return { input: admission.plan.input, output: admission.reservation - admission.plan.input };
  return chargeFor(admission.plan, reading);
}

/** A metered request's body past the route's `metering.max_body_bytes`. */
export function meteredBodyTooLarge(maxBytes: number): Refusal {
  return { ok: false, code: 'payload_too_large', message: `The request body exceeds ${maxBytes} bytes.` };
}

/** A body past MODEL_BODY_BYTES on a route with model limits: padding must not escape them. */
export const MODEL_BODY_TOO_LARGE: Refusal = Object.freeze({
  ok: false,
  code: 'payload_too_large',
  message: `The request body exceeds ${MODEL_BODY_BYTES} bytes, the most read for model limits.`,
});

/** An encoded body would name its model to the upstream but not to keygate. */
export const ENCODED_MODEL_BODY: Refusal = Object.freeze({
  ok: false,
  code: 'unsupported_media_type',
  message: 'Request bodies on this route must not be content-encoded: model limits read the model from the body.',
});

const PERIOD_WORD = { day: 'daily', month: 'monthly', total: 'total' } as const;

/** Dollars without rounding small budgets away: 5 → "5.00", 0.0001 → "0.0001". */
function formatUsd(micros: number): string {
  const usd = micros / 1e6;
  return usd >= 0.01 ? usd.toFixed(2) : usd.toFixed(6).replace(/0+$/, '');
}

/** On a refusal, show the refusing window as the tightest one. */
function limitView(counters: CounterState[], refused: CounterState): CounterState[] {
  return [{ ...refused, remaining: 0 }, ...counters.filter((x) => x.name !== refused.name)];
}
