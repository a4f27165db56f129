// The limit store: one interface, two real implementations (Upstash Redis, Durable Object).
// Everything one request needs decided goes out in a single admit() call, which is one
// round trip on either store.

import { BLOCK_REASONS, type BlockReason } from '../keys/status';

export type CounterKind = 'requests' | 'tokens';

/** One fixed window to check and consume, e.g. rpm = 100 requests per 60 s. */
export interface CounterSpec {
  /** rpm | rpd | tpm | tpd, or model:<name>:<rpm|rpd|tpm|tpd> */
  name: string;
  kind: CounterKind;
  limit: number;
  windowMs: number;
  /** Units this request consumes now (1 request, or the token reservation). */
  cost: number;
}

export interface BudgetSpec {
  limitMicros: number;
  period: 'day' | 'month' | 'total';
  /** Period bucket, e.g. 2026-11-23, 2026-11, total. */
  periodKey: string;
  /** End of the period (ms), or null for `total`. */
  resetAt: number | null;
  costMicros: number;
}

/**
 * The owner's part of an admission, present when the key's owner has limits of its own:
 * its windows and budget are checked and consumed with the key's, all or nothing, in the
 * same store call (the key's counters then live beside the owner's: one Durable Object per
 * owner, one Redis hash slot per owner).
 */
export interface OwnerAdmit {
  /** The owner's name as the admin API stores it. */
  id: string;
  counters: CounterSpec[];
  budget?: BudgetSpec;
}

/** A key's prepaid credits for one admission. */
export interface CreditsSpec {
  /** Credits this request costs (the route's `cost`). */
  cost: number;
  /** The balance the key starts with (its `credits.remaining`), used while the store holds none. */
  initial: number;
  /** With a refill, the balance becomes `amount` at the start of each period (`periodKey`, ending at `resetAt`). */
  refill?: { amount: number; periodKey: string; resetAt: number };
}

export interface CreditsState {
  remaining: number;
  /** When the next refill happens, or null without one. */
  refillAt: number | null;
}

/** An admin change to a key's credit balance. */
export type CreditsChange = { add: number } | { set: number };

/**
 * An in-flight slot for one request (concurrency caps): held from admission until the
 * response ends or the client leaves (release()), or until `expiresAt` if the isolate
 * holding it dies first.
 */
export interface LeaseSpec {
  id: string;
  expiresAt: number;
  /** The key's `max_concurrent`, if any. */
  keyMax?: number;
  /** The owner's `max_concurrent`, if any (needs AdmitInput.owner for the shard). */
  ownerMax?: number;
}

/** Which limit holder refused a request. */
export type Holder = 'key' | 'owner';

export interface AdmitInput {
  /** Whose revocation marker is checked. */
  keyId: string;
  /** Whose windows and budget are checked and consumed (a rotated key's lineage); default keyId. */
  counterId?: string;
  counters: CounterSpec[];
  budget?: BudgetSpec;
  /** The owner's windows and budget, when its owner has limits. */
  owner?: OwnerAdmit;
  /** The key's prepaid credits, when it has them. */
  credits?: CreditsSpec;
  /** An in-flight lease, when the key or its owner caps concurrent requests. */
  lease?: LeaseSpec;
  now: number;
  /**
   * A signed request's token id: refused (`replayed`) when already recorded for this key,
   * recorded until `expiresAt` (ms) when admitted. Checked and recorded in the same atomic
   * call as the limits, so of concurrent replays exactly one is admitted.
   */
  replay?: { id: string; expiresAt: number };
}

export interface CounterState {
  name: string;
  kind: CounterKind;
  limit: number;
  used: number;
  remaining: number;
  windowMs: number;
  /** When this window ends (ms since epoch). */
  resetAt: number;
}

export interface BudgetState {
  limitMicros: number;
  spentMicros: number;
  remainingMicros: number;
  period: BudgetSpec['period'];
  resetAt: number | null;
}

/** What settle() needs to adjust exactly the windows the admission charged. */
export interface Ticket {
  /** The counter id the admission charged (see AdmitInput.counterId). */
  keyId: string;
  /** Token counters charged with the reservation: name, window and the bucket charged. */
  tokenWindows: { name: string; limit: number; windowMs: number; bucket: number }[];
  budget?: { periodKey: string; period: BudgetSpec['period']; limitMicros: number };
  /** The owner's token windows and budget the admission charged (AdmitInput.owner). */
  owner?: { id: string; tokenWindows: Ticket['tokenWindows']; budget?: Ticket['budget']; requestWindows?: Ticket['requestWindows'] };
  /** Request windows charged (one each), for a refunding release(): see refundTicket. */
  requestWindows?: { name: string; windowMs: number; bucket: number }[];
  /** Credits charged. */
  credits?: number;
  /** The lease taken: its id, and whether it counts for the key, the owner or both. */
  lease?: { id: string; key: boolean; owner: boolean };
}

export type AdmitOutcome =
  | { status: 'admitted'; counters: CounterState[]; budget?: BudgetState; owner?: UsageSnapshot; credits?: CreditsState; ticket: Ticket }
  | { status: 'credits_exhausted'; credits: CreditsState }
  | { status: 'too_many_concurrent_requests'; holder: Holder; limit: number }
  | { status: 'rate_limited'; holder: Holder; refusedBy: CounterState; counters: CounterState[]; budget?: BudgetState }
  | { status: 'budget_exhausted'; holder: Holder; counters: CounterState[]; budget: BudgetState }
  | { status: 'blocked'; reason: BlockReason }
  | { status: 'replayed' };

/** Why a key is blocked in the store (the instant-revocation marker's value). */

export interface Settlement {
  /** Actual tokens minus the reservation: positive charges, negative refunds. */
  tokenDelta: number;
  costDeltaMicros: number;
  now: number;
}

export interface UsageSnapshot {
  counters: CounterState[];
  budget?: BudgetState;
  credits?: CreditsState;
}

export interface LimitStore {
  readonly kind: 'upstash' | 'durable_object';
  /**
   * Checks the revocation marker and every limit; consumes all of them or none. Admissions that
   * arrive while a call to the same shard is in flight share the next call (group commit);
   * `keepAlive` (the request's waitUntil) keeps a call this request makes for others alive
   * after its own response.
   */
  admit(input: AdmitInput, keepAlive?: (call: Promise<unknown>) => void): Promise<AdmitOutcome>;
  /** Post-response: charge or refund the difference between reservation and actual usage. */
  settle(ticket: Ticket, settlement: Settlement): Promise<void>;
  /**
   * The instant-revocation marker, checked by every admit(); null clears it. `counterId` as in
   * AdmitInput; `owner` is the key's owner, whose shard holds a copy of the marker (admissions
   * of keys whose owner has limits run there).
   */
  setBlocked(keyId: string, reason: BlockReason | null, counterId?: string, owner?: string | null): Promise<void>;
  /**
   * Reads counters without consuming anything; `keyId` is the counter id. `owner`: the key's
   * owner when that owner has limits (the key's counters then live in the owner's shard).
   */
  usage(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number, owner?: string, credits?: CreditsSpec): Promise<UsageSnapshot>;
  /**
   * Ends what an admission holds: releases its lease and, with `refund`, gives back its
   * request windows (in their bucket) and credits. Tokens and budget are refunded by settle().
   */
  release(ticket: Ticket, refund: boolean, now: number): Promise<void>;
  /** Adds to or sets a key's credit balance (refilled first when a period has begun); `keyId` and `owner` as in usage(). */
  changeCredits(keyId: string, credits: CreditsSpec, change: CreditsChange, owner?: string): Promise<CreditsState>;
  /** An owner's own windows and budget, without consuming anything. */
  ownerUsage(owner: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Promise<UsageSnapshot>;
}

export const bucketOf = (now: number, windowMs: number): number => Math.floor(now / windowMs);
export const windowEnd = (bucket: number, windowMs: number): number => (bucket + 1) * windowMs;

/**
 * The flag a key's marker is kept under in its counter object: `blocked` for the object's
 * own key (one key per object), `blocked:<key id>` for a
 * rotation successor sharing its predecessor's object, and for every key in an owner's object.
 */
export function markerFlag(keyId: string, counterId: string | undefined, inOwnerShard = false): string {
  return !inOwnerShard && (counterId === undefined || counterId === keyId) ? 'blocked' : `blocked:${keyId}`;
}

// What both stores build their answers from, so an answer means the same on either.

/** A window's state from its spec and the amount used in its current bucket. */
export function counterStateOf(c: CounterSpec, used: number, bucket: number): CounterState {
  return { name: c.name, kind: c.kind, limit: c.limit, used, remaining: Math.max(0, c.limit - used), windowMs: c.windowMs, resetAt: windowEnd(bucket, c.windowMs) };
}

export function budgetStateOf(budget: Pick<BudgetSpec, 'limitMicros' | 'period' | 'resetAt'>, spent: number): BudgetState {
  const s = Math.max(0, spent);
  return { limitMicros: budget.limitMicros, spentMicros: s, remainingMicros: Math.max(0, budget.limitMicros - s), period: budget.period, resetAt: budget.resetAt };
}

/** What settle() and release() need to adjust exactly what an admission charged. */
export function ticketFor(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Ticket {
  return {
    keyId,
    tokenWindows: counters.filter((c) => c.kind === 'tokens').map((c) => ({ name: c.name, limit: c.limit, windowMs: c.windowMs, bucket: bucketOf(now, c.windowMs) })),
    budget: budget ? { periodKey: budget.periodKey, period: budget.period, limitMicros: budget.limitMicros } : undefined,
  };
}

const requestWindowsOf = (counters: CounterSpec[], now: number): NonNullable<Ticket['requestWindows']> =>
  counters.filter((c) => c.kind === 'requests' && c.cost > 0).map((c) => ({ name: c.name, windowMs: c.windowMs, bucket: bucketOf(now, c.windowMs) }));

/**
 * A ticket ready for a refunding release(): with the request windows its admission charged,
 * taken from the input (built only when refunding, never on the warm path).
 */
export function refundTicket(ticket: Ticket, input: AdmitInput): Ticket {
  const out: Ticket = { ...ticket, requestWindows: requestWindowsOf(input.counters, input.now) };
  if (ticket.owner && input.owner) out.owner = { ...ticket.owner, requestWindows: requestWindowsOf(input.owner.counters, input.now) };
  return out;
}

/** The credits and lease parts of a ticket for an admitted input. */
export function completeTicket(ticket: Ticket, input: AdmitInput, now: number): Ticket {
  if (input.owner) ticket.owner = ownerTicketFor(input.owner, now);
  if (input.credits && input.credits.cost > 0) ticket.credits = input.credits.cost;
  const lease = input.lease;
  if (lease) {
    const owner = lease.ownerMax !== undefined && input.owner !== undefined;
    if (lease.keyMax !== undefined || owner) ticket.lease = { id: lease.id, key: lease.keyMax !== undefined, owner };
  }
  return ticket;
}

/** The owner part of a ticket for an admission that charged the owner. */
export function ownerTicketFor(owner: OwnerAdmit | undefined, now: number): Ticket['owner'] {
  if (!owner) return undefined;
  const t = ticketFor(owner.id, owner.counters, owner.budget, now);
  return { id: owner.id, tokenWindows: t.tokenWindows, budget: t.budget };
}

/** A stored marker value as a block reason; anything unrecognised blocks as revoked (fail closed). */
export function blockReasonFrom(value: unknown): BlockReason {
  return BLOCK_REASONS.find((r) => r === value) ?? 'key_revoked';
}
