// Numbers a store is asked to count with are checked here, before any store call: a NaN,
// a fraction, a negative or an out-of-range amount must never reach Redis or SQLite, where it
// would fail the call (and, counted as a store fault, open the circuit breaker for everyone)
// or, in a Lua script that already incremented some windows, consume part of a request.
//
// Limits come from the configuration and key records: a finite non-negative limit is rounded
// down and capped at MAX_AMOUNT (more than any window or budget can use; a budget of 1e12 USD
// would otherwise be 1e18 micro-USD, past what a double holds exactly). Amounts (a request's
// cost, a settlement's delta) are client-influenced: a finite amount is rounded up and capped
// at limit + 1, which refuses exactly as the uncapped amount would while keeping every number
// the store sees small. Anything else (NaN, infinities, negatives) is invalid.

import type { AdmitInput, CounterSpec, Settlement } from './store';

export type AdmitInputCheck = { ok: true; input: AdmitInput } | { ok: false; problem: string };

/** 2^50: every limit and amount a store sees is at most this (+1), far inside a safe integer. */
export const MAX_AMOUNT = 2 ** 50;

/** A limit in [0, MAX_AMOUNT], or null when it is not a finite non-negative number. */
function boundedLimit(limit: number): number | null {
  if (!Number.isFinite(limit) || limit < 0) return null;
  return Math.min(Math.floor(limit), MAX_AMOUNT);
}

/** A cost in [0, limit + 1], or null when it is not a finite non-negative number. */
function boundedCost(cost: number, limit: number): number | null {
  if (!Number.isFinite(cost) || cost < 0) return null;
  return Math.min(Math.ceil(cost), limit + 1);
}

/** The admission to send, or why none may be sent. Returns the input itself when it is already sound. */
export function checkAdmitInput(input: AdmitInput): AdmitInputCheck {
  const bounded = boundAdmitInput(input);
  return typeof bounded === 'string' ? { ok: false, problem: bounded } : { ok: true, input: bounded };
}

/** checkAdmitInput without the wrapper: the sound input, or the problem. */
export function boundAdmitInput(input: AdmitInput): AdmitInput | string {
  let counters: CounterSpec[] | undefined;
  for (let i = 0; i < input.counters.length; i++) {
    const c = input.counters[i] as CounterSpec;
    const limit = boundedLimit(c.limit);
    if (limit === null || !Number.isSafeInteger(c.windowMs) || c.windowMs <= 0) return `counter ${c.name}: limit or window is not a non-negative number`;
    const cost = boundedCost(c.cost, limit);
    if (cost === null) return `counter ${c.name}: cost is not a finite non-negative number`;
    if (cost !== c.cost || limit !== c.limit) (counters ??= input.counters.slice())[i] = { ...c, limit, cost };
  }
  let budget = input.budget;
  if (budget) {
    const limit = boundedLimit(budget.limitMicros);
    if (limit === null) return 'budget: limit is not a non-negative number';
    const cost = boundedCost(budget.costMicros, limit);
    if (cost === null) return 'budget: cost is not a finite non-negative number';
    if (cost !== budget.costMicros || limit !== budget.limitMicros) budget = { ...budget, limitMicros: limit, costMicros: cost };
  }
  if (!Number.isSafeInteger(input.now)) return 'now is not an integer';
  const credits = input.credits;
  if (credits) {
    const amounts = [credits.cost, credits.initial, credits.refill?.amount ?? 0];
    if (!amounts.every((n) => Number.isSafeInteger(n) && n >= 0 && n <= MAX_AMOUNT)) return 'credits: an amount is not an integer in range';
  }
  let owner = input.owner;
  if (owner) {
    // The owner's amounts follow the same rules as the key's.
    const bounded = boundAdmitInput({ keyId: input.keyId, counters: owner.counters, budget: owner.budget, now: input.now });
    if (typeof bounded === 'string') return `owner ${bounded}`;
    if (bounded.counters !== owner.counters || bounded.budget !== owner.budget) owner = { ...owner, counters: bounded.counters, budget: bounded.budget };
  }
  if (input.replay && (!Number.isSafeInteger(input.replay.expiresAt) || input.replay.id.length === 0 || input.replay.id.length > 128)) {
    return 'replay: token id or expiry is out of range';
  }
  if (counters === undefined && budget === input.budget && owner === input.owner) return input;
  return { ...input, counters: counters ?? input.counters, budget, owner };
}

/**
 * Settlement deltas come from what an upstream reported, so a hostile upstream chooses them.
 * Non-finite deltas settle nothing; others are rounded up and capped so repeated settlements
 * cannot overflow a store's 64-bit counters.
 */
export const MAX_SETTLEMENT_DELTA = 2 ** 40;

export function boundedSettlement(s: Settlement): Settlement {
  const bound = (n: number) => (Number.isFinite(n) ? Math.max(-MAX_SETTLEMENT_DELTA, Math.min(MAX_SETTLEMENT_DELTA, Math.ceil(n))) : 0);
  const tokenDelta = bound(s.tokenDelta);
  const costDeltaMicros = bound(s.costDeltaMicros);
  if (tokenDelta === s.tokenDelta && costDeltaMicros === s.costDeltaMicros && Number.isSafeInteger(s.now)) return s;
  return { tokenDelta, costDeltaMicros, now: Number.isSafeInteger(s.now) ? s.now : Date.now() };
}
