// Limit store on Upstash Redis.
//
// Admission is ONE Lua script (one EVALSHA in one /pipeline HTTP request): it checks the
// revocation marker, every window and the budget, and consumes all of them or none. It must be
// one script: a check per window has to increment before it can refuse, so a refused request
// would hold capacity until a second round trip gave it back, refusing concurrent requests
// that fit. One script is exact and never compensates.
//
// The admission is one command, so it leaves as one /pipeline request of one command, sent
// through the SDK's HTTP client directly (AdmissionRedis in upstash-client.ts): the auto-pipelining proxy
// builds a Pipeline object per batch, work on the hot path that batches nothing when there
// is one command. Everything else (settlement, markers, usage) uses
// the auto-pipelining client. The windows keep @upstash/ratelimit's fixed-window layout
// (<prefix>:<id>:<bucket>), and settlement (charging or refunding the reservation difference
// after the response) goes through @upstash/ratelimit's fixedWindow with a positive or
// negative rate.

import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis/cloudflare';
import { AdmissionRedis, LuaScript } from './upstash-client';
import { GroupCommit, groupCommitOptions, type GroupCommitOptions, type Settled } from './group-commit';
import { LruCache } from '../lib/lru';
import { boundedSettlement, MAX_AMOUNT } from './admit-input';
import { blockReasonFrom, budgetStateOf, bucketOf, counterStateOf, completeTicket, ticketFor, type AdmitInput, type Holder, type AdmitOutcome, type BudgetSpec, type CounterSpec, type CreditsChange, type CreditsSpec, type CreditsState, type LimitStore, type Settlement, type Ticket, type UsageSnapshot } from './store';
import { creditsBalance, creditsPeriod, creditsStateOf } from './credits';
import type { BlockReason } from '../keys/status';
import {
  ownerTag,
  keyCounterId,
  creditsKey,
  leaseKey,
  revokedKey,
  budgetKey,
  replayKey,
  counterPrefix,
  counterKey,
  ADMIT_SCRIPT,
  RELEASE_SCRIPT,
  CREDITS_CHANGE_SCRIPT,
  BUDGET_ADJUST_SCRIPT,
} from './upstash-scripts';

const DAY_MS = 86_400_000;

const MARKER_TTL_S = 400 * 86_400;

export interface UpstashStoreOptions {
  url: string;
  token: string;
  /** Group commit (src/limits/group-commit.ts); defaults when unset. */
  batching?: Partial<GroupCommitOptions>;
}

export class UpstashLimitStore implements LimitStore {
  readonly kind = 'upstash' as const;
  readonly redis: Redis;
  readonly #admission: AdmissionRedis;
  // One Ratelimit per (counter name, limit, window); bounded.
  readonly #limiters = new LruCache<string, Ratelimit>(2_000, 3_600_000);
  readonly #admit = new LuaScript(ADMIT_SCRIPT);
  readonly #adjust = new LuaScript(BUDGET_ADJUST_SCRIPT);
  readonly #credits = new LuaScript(CREDITS_CHANGE_SCRIPT);
  readonly #release = new LuaScript(RELEASE_SCRIPT);
  /** Admissions waiting while a call is in flight share the next /pipeline request. */
  readonly batches: GroupCommit<AdmitInput, AdmitOutcome>;

  constructor(opts: UpstashStoreOptions) {
    this.batches = new GroupCommit((_shard, inputs) => this.admitBatch(inputs), groupCommitOptions(opts.batching ?? {}));
    this.redis = new Redis({
      url: opts.url,
      token: opts.token,
      // Our own timeout and circuit breaker decide; the SDK must fail fast, not retry for seconds.
      retry: { retries: 0 },
      enableAutoPipelining: true,
      enableTelemetry: false,
      latencyLogging: false,
    });
    this.#admission = new AdmissionRedis({
      url: opts.url,
      token: opts.token,
      // The script's reply is numbers and short ASCII reasons: plain JSON, no base64 pass.
      responseEncoding: false,
      retry: { retries: 0 },
      enableAutoPipelining: false,
      enableTelemetry: false,
      latencyLogging: false,
    });
  }

  private limiter(c: Pick<CounterSpec, 'name' | 'limit' | 'windowMs'>): Ratelimit {
    const id = `${c.name}|${c.limit}|${c.windowMs}`;
    let rl = this.#limiters.get(id);
    if (!rl) {
      rl = new Ratelimit({
        redis: this.redis,
        limiter: Ratelimit.fixedWindow(c.limit, `${c.windowMs} ms`),
        prefix: counterPrefix(c.name),
        // A blocked id in the ephemeral cache records nothing, which would break exact
        // settlement; analytics and protection stay off (protection fetches from the internet).
        ephemeralCache: false,
        analytics: false,
        timeout: 0,
      });
      this.#limiters.set(id, rl);
    }
    return rl;
  }

  admit(input: AdmitInput, keepAlive?: (call: Promise<unknown>) => void): Promise<AdmitOutcome> {
    // Every admission is one script run on its own keys, so any admissions can share a
    // /pipeline request: the whole store is one shard.
    return this.batches.submit('', input, keepAlive);
  }

  /** Admissions as one /pipeline request, one EVALSHA each; each reply read on its own. */
  private async admitBatch(inputs: AdmitInput[]): Promise<Settled<AdmitOutcome>[]> {
    const replies = await this.#admit.runEach<(number | string)[]>(this.#admission, inputs.map(admissionCommand));
    return replies.map((r, i) => (r.ok ? { ok: true, value: admissionOutcome(inputs[i]!, r.value) } : r));
  }

  async settle(ticket: Ticket, settlement: Settlement): Promise<void> {
    const s = boundedSettlement(settlement);
    const calls: Promise<unknown>[] = [];
    if (s.tokenDelta !== 0) {
      for (const w of ticket.tokenWindows) {
        // A refund into a window that has already ended would give the next window free capacity.
        if (s.tokenDelta < 0 && bucketOf(s.now, w.windowMs) !== w.bucket) continue;
        calls.push(this.limiter(w).limit(ticket.keyId, { rate: s.tokenDelta }));
      }
    }
    if (ticket.budget && s.costDeltaMicros !== 0) {
      calls.push(this.#adjust.run(this.redis, [budgetKey(ticket.keyId, ticket.budget.periodKey)], [String(s.costDeltaMicros)]));
    }
    const owner = ticket.owner;
    if (owner) {
      const tag = ownerTag(owner.id);
      if (s.tokenDelta !== 0) {
        for (const w of owner.tokenWindows) {
          if (s.tokenDelta < 0 && bucketOf(s.now, w.windowMs) !== w.bucket) continue;
          calls.push(this.limiter(w).limit(tag, { rate: s.tokenDelta }));
        }
      }
      if (owner.budget && s.costDeltaMicros !== 0) {
        calls.push(this.#adjust.run(this.redis, [budgetKey(tag, owner.budget.periodKey)], [String(s.costDeltaMicros)]));
      }
    }
    await Promise.all(calls);
  }

  async release(ticket: Ticket, refund: boolean, now: number): Promise<void> {
    const owner = ticket.owner;
    const tag = owner ? ownerTag(owner.id) : undefined;
    const keys = [leaseKey(ticket.keyId), leaseKey(tag ?? `${ticket.keyId}:owner`), creditsKey(ticket.keyId)];
    if (refund) {
      for (const w of ticket.requestWindows ?? []) if (bucketOf(now, w.windowMs) === w.bucket) keys.push(counterKey(w.name, ticket.keyId, w.bucket));
      for (const w of owner?.requestWindows ?? []) if (bucketOf(now, w.windowMs) === w.bucket) keys.push(counterKey(w.name, tag!, w.bucket));
    }
    await this.#release.run(this.redis, keys, [ticket.lease?.id ?? '', refund ? '1' : '0', String(refund ? (ticket.credits ?? 0) : 0)]);
  }

  async setBlocked(keyId: string, reason: BlockReason | null, _counterId?: string, owner?: string | null): Promise<void> {
    const markers = owner ? [revokedKey(keyId), revokedKey(keyId, owner)] : [revokedKey(keyId)];
    await Promise.all(markers.map((m) => (reason ? this.redis.set(m, reason, { ex: MARKER_TTL_S }) : this.redis.del(m))));
  }

  async usage(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number, owner?: string, credits?: CreditsSpec): Promise<UsageSnapshot> {
    const id = keyCounterId(keyId, owner);
    if (!credits) return this.read(id, counters, budget, now);
    const [snap, stored] = await Promise.all([this.read(id, counters, budget, now), this.redis.hmget<{ remaining: string | number | null; period: string | null }>(creditsKey(id), 'remaining', 'period')]);
    const remaining = stored?.remaining;
    const balance = creditsBalance(credits, remaining === null || remaining === undefined ? null : { remaining: Number(remaining), period: String(stored?.period ?? '') });
    return { ...snap, credits: creditsStateOf(credits, balance) };
  }

  async changeCredits(keyId: string, credits: CreditsSpec, change: CreditsChange, owner?: string): Promise<CreditsState> {
    const [mode, amount] = 'add' in change ? ['add', change.add] : ['set', change.set];
    const args = [String(credits.initial), String(credits.refill?.amount ?? -1), creditsPeriod(credits), mode, String(amount), String(MAX_AMOUNT)];
    const balance = await this.#credits.run<number>(this.redis, [creditsKey(keyCounterId(keyId, owner))], args);
    return creditsStateOf(credits, Number(balance));
  }

  ownerUsage(owner: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Promise<UsageSnapshot> {
    return this.read(ownerTag(owner), counters, budget, now);
  }

  private async read(id: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Promise<UsageSnapshot> {
    const keys = counters.map((c) => counterKey(c.name, id, bucketOf(now, c.windowMs)));
    if (budget) keys.push(budgetKey(id, budget.periodKey));
    const values = keys.length ? await this.redis.mget<(string | number | null)[]>(...keys) : [];
    const states = counters.map((c, i) => {
      const used = Math.max(0, Number(values[i] ?? 0));
      return counterStateOf(c, used, bucketOf(now, c.windowMs));
    });
    return { counters: states, budget: budget ? budgetStateOf(budget, Number(values[counters.length] ?? 0)) : undefined };
  }
}


/** One holder's section of the admission script's KEYS and ARGV. */
function pushHolder(keys: string[], args: string[], id: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): void {
  // Without a budget the slot is never read; it is still named inside the holder's hash slot.
  keys.push(budgetKey(id, budget ? budget.periodKey : 'none'));
  if (budget) args.push('1', String(budget.limitMicros), String(budget.costMicros), String(budgetTtlMs(budget, now)), String(counters.length));
  else args.push('0', '0', '0', '0', String(counters.length));
  for (const c of counters) {
    keys.push(counterKey(c.name, id, bucketOf(now, c.windowMs)));
    args.push(String(c.limit), String(c.cost), String(c.windowMs));
  }
}

/** One holder's spent and used values from the script's reply, starting at `at`. */
function holderState(reply: (number | string)[], at: number, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): UsageSnapshot {
  return {
    counters: counters.map((c, i) => counterStateOf(c, Number(reply[at + 1 + i] ?? 0), bucketOf(now, c.windowMs))),
    budget: budget && budgetStateOf(budget, Number(reply[at])),
  };
}

function budgetTtlMs(budget: BudgetSpec, now: number): number {
  return budget.resetAt === null ? 0 : budget.resetAt - now + DAY_MS;
}

/** The admission script's KEYS and ARGV for one input. */
function admissionCommand(input: AdmitInput): { keys: string[]; args: string[] } {
  const { keyId, counters, budget, owner, now } = input;
  const counterId = keyCounterId(input.counterId ?? keyId, owner?.id);
  const replay = input.replay;
  const keys = [owner ? revokedKey(keyId, owner.id) : revokedKey(keyId), replayKey(keyId, replay?.id ?? '', owner?.id)];
  const args = [replay ? String(Math.max(1, Math.ceil(replay.expiresAt - now))) : '0', owner ? '2' : '1'];
  pushHolder(keys, args, counterId, counters, budget, now);
  if (owner) pushHolder(keys, args, ownerTag(owner.id), owner.counters, owner.budget, now);
  const credits = input.credits;
  keys.push(creditsKey(counterId));
  if (credits) args.push('1', String(credits.cost), String(credits.initial), String(credits.refill?.amount ?? -1), creditsPeriod(credits));
  else args.push('0', '0', '0', '-1', '');
  const lease = input.lease;
  const ownerTag_ = owner ? ownerTag(owner.id) : undefined;
  keys.push(leaseKey(counterId), leaseKey(ownerTag_ ?? `${counterId}:owner`));
  if (lease) args.push(lease.id, String(lease.expiresAt), String(now), String(lease.keyMax ?? -1), String(owner ? (lease.ownerMax ?? -1) : -1));
  else args.push('', '0', '0', '-1', '-1');
  return { keys, args };
}

/** One admission's outcome from the script's reply. */
function admissionOutcome(input: AdmitInput, reply: (number | string)[]): AdmitOutcome {
  const { keyId, counters, budget, owner, now } = input;
  const counterId = keyCounterId(input.counterId ?? keyId, owner?.id);
  const status = Number(reply[0]);
  if (status === -1) return { status: 'blocked', reason: blockReasonFrom(reply[1]) };
  if (status === -5) return { status: 'replayed' };
  const key = holderState(reply, 3, counters, budget, now);
  const ownerState = owner ? holderState(reply, 3 + 1 + counters.length, owner.counters, owner.budget, now) : undefined;
  const balance = Number(reply[3 + 1 + counters.length + (owner ? 1 + owner.counters.length : 0)]);
  const credits = input.credits;
  const creditsState = credits && creditsStateOf(credits, balance);
  if (status === -3 && creditsState) return { status: 'credits_exhausted', credits: creditsState };
  if (status === -4) return { status: 'too_many_concurrent_requests', holder: Number(reply[1]) === 2 ? 'owner' : 'key', limit: Number(reply[2]) };
  if (status === 1) {
    const ticket = completeTicket(ticketFor(counterId, counters, budget, now), input, now);
    return { status: 'admitted', counters: key.counters, budget: key.budget, ...(ownerState ? { owner: ownerState } : {}), ...(creditsState ? { credits: creditsState } : {}), ticket };
  }
  const holder: Holder = Number(reply[1]) === 2 ? 'owner' : 'key';
  const refusing = holder === 'owner' && ownerState ? ownerState : key;
  if (status === -2 && refusing.budget) return { status: 'budget_exhausted', holder, counters: refusing.counters, budget: refusing.budget };
  return { status: 'rate_limited', holder, refusedBy: refusing.counters[Number(reply[2]) - 1]!, counters: refusing.counters, budget: refusing.budget };
}
