// Limit store on Upstash Redis.
//
// Admission is ONE Lua script (one EVALSHA in one /pipeline HTTP request): it checks the
// revocation marker, every window and the budget, and consumes all of them or none. It must be
// one script: a check per window has to increment before it can refuse, so a refused request
// would hold capacity until a second round trip gave it back, refusing concurrent requests
// that fit. One script is exact and never compensates.
//
// The admission is one command, so it leaves as one /pipeline request of one command, sent
// through the SDK's HTTP client directly (AdmissionRedis below): the auto-pipelining proxy
// builds a Pipeline object per batch, work on the hot path that batches nothing when there
// is one command. Everything else (settlement, markers, usage) uses
// the auto-pipelining client. The windows keep @upstash/ratelimit's fixed-window layout
// (<prefix>:<id>:<bucket>), and settlement (charging or refunding the reservation difference
// after the response) goes through @upstash/ratelimit's fixedWindow with a positive or
// negative rate.

import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis/cloudflare';
import { LruCache } from '../lib/lru';
import { boundedSettlement, MAX_AMOUNT } from './admit-input';
import {
  blockReasonFrom,
  budgetStateOf,
  bucketOf,
  counterStateOf,
  creditsBalance,
  creditsPeriod,
  creditsStateOf,
  completeTicket,
  ticketFor,
  type AdmitInput,
  type Holder,
  type AdmitOutcome,
  type BudgetSpec,
  type CounterSpec,
  type CounterState,
  type CreditsChange,
  type CreditsSpec,
  type CreditsState,
  type LimitStore,
  type Settlement,
  type Ticket,
  type UsageSnapshot,
} from './store';
import type { BlockReason } from '../keys/status';

const NS = 'kg';
/**
 * An owner's Redis hash tag: every key one owner admission touches (the owner's windows and
 * budget, its keys' windows, budgets and marker copies) carries it, so they share one hash
 * slot and one script may touch them all. Every UTF-16 unit of the name outside [A-Za-z0-9._~-]
 * becomes `%` and four hex digits: no `{`, `}` or `:` of an owner's name reaches the key, two
 * names never share a tag, and no string (not even a lone surrogate) makes encoding throw.
 */
export const ownerTag = (owner: string): string => `{o:${owner.replace(/[^A-Za-z0-9._~-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}}`;
/** A key's counter identifier: its counter id, inside its owner's slot when the owner has limits. */
const keyCounterId = (counterId: string, owner: string | undefined) => (owner === undefined ? counterId : `${ownerTag(owner)}:${counterId}`);
const creditsKey = (id: string) => `${NS}:credits:${id}`;
const leaseKey = (id: string) => `${NS}:lease:${id}`;
const revokedKey = (keyId: string, owner?: string) => (owner === undefined ? `${NS}:revoked:${keyId}` : `${NS}:revoked:${ownerTag(owner)}:${keyId}`);
const budgetKey = (keyId: string, periodKey: string) => `${NS}:budget:${keyId}:${periodKey}`;
// In the owner's slot when the owner has limits (the tag comes first, so no brace in a token id
// picks the slot); read and written only when the request carries a token id.
const replayKey = (keyId: string, id: string, owner?: string) => (owner === undefined ? `${NS}:jti:${keyId}:${id}` : `${NS}:jti:${ownerTag(owner)}:${keyId}:${id}`);
const counterPrefix = (name: string) => `${NS}:rl:${name}`;
// Same layout @upstash/ratelimit's fixed window uses: <prefix>:<identifier>:<bucket>.
const counterKey = (name: string, keyId: string, bucket: number) => `${counterPrefix(name)}:${keyId}:${bucket}`;

// KEYS[1] revocation marker, KEYS[2] a signed request's token id; ARGV[1] token id TTL ms
// (0 = no token). Then one section per holder (the key; its owner when the owner has limits):
// KEYS budget key, then one fixed window per counter; ARGV[2] holder count, and per holder: has budget (0/1), budget limit, budget cost, budget TTL ms (0 = none), counter
// count n, then per counter: limit, cost, window ms.
// Then the key's credits: KEYS its balance hash; ARGV has credits (0/1), cost, initial balance,
// refill amount (-1 = none), refill period ('' = none).
// Then the lease: KEYS the key's and the owner's lease sets (scores: expiry ms); ARGV lease id
// ('' = none), expiry ms, now ms, key max, owner max (-1 = no cap).
// -4 in the reply's status: too many in flight (holder, then the cap in the third slot).
// Returns {-1, reason} blocked | {-5} token id seen (checked before anything is consumed, so a
// replayed token consumes nothing) | {0, holder, refused index, per holder: spent, used..., credits}
// rate limited | {-2, holder, 0, ...} budget refused | {-3, 0, 0, ...} credits spent
// | {1, 0, 0, per holder: spent after, used after..., credits after}; credits -1 when none.
const ADMIT_SCRIPT = `
local blocked = redis.call('GET', KEYS[1])
if blocked then return {-1, blocked} end
local replayTtl = tonumber(ARGV[1])
if replayTtl > 0 and redis.call('EXISTS', KEYS[2]) == 1 then return {-5} end
local holders = {}
local ki, ai = 3, 3
for h = 1, tonumber(ARGV[2]) do
  local hd = {budgetKey = KEYS[ki], hasBudget = ARGV[ai] == '1', limit = tonumber(ARGV[ai + 1]), cost = tonumber(ARGV[ai + 2]), ttl = tonumber(ARGV[ai + 3]), n = tonumber(ARGV[ai + 4]), keys = {}, limits = {}, costs = {}, windows = {}, used = {}, spent = 0}
  ki = ki + 1
  ai = ai + 5
  for i = 1, hd.n do
    hd.keys[i] = KEYS[ki]
    hd.limits[i] = tonumber(ARGV[ai])
    hd.costs[i] = tonumber(ARGV[ai + 1])
    hd.windows[i] = ARGV[ai + 2]
    ki = ki + 1
    ai = ai + 3
  end
  holders[h] = hd
end
local credits = nil
if ARGV[ai] == '1' then
  credits = {key = KEYS[ki], cost = tonumber(ARGV[ai + 1]), refill = tonumber(ARGV[ai + 3]), period = ARGV[ai + 4]}
  local stored = redis.call('HMGET', credits.key, 'remaining', 'period')
  if not stored[1] then credits.balance = tonumber(ARGV[ai + 2])
  elseif credits.refill >= 0 and stored[2] ~= credits.period then credits.balance = credits.refill
  else credits.balance = tonumber(stored[1]) end
end
ki = ki + 1
ai = ai + 5
local lease = nil
if ARGV[ai] ~= '' then
  lease = {id = ARGV[ai], expires = tonumber(ARGV[ai + 1]), now = tonumber(ARGV[ai + 2]), caps = {}}
  local maxes = {tonumber(ARGV[ai + 3]), tonumber(ARGV[ai + 4])}
  for h = 1, 2 do
    if maxes[h] >= 0 then
      local k = KEYS[ki + h - 1]
      redis.call('ZREMRANGEBYSCORE', k, '-inf', lease.now)
      lease.caps[#lease.caps + 1] = {key = k, holder = h, max = maxes[h], count = redis.call('ZCARD', k)}
    end
  end
end
local status, refusedHolder, refused = 1, 0, 0
for h, hd in ipairs(holders) do
  for i = 1, hd.n do
    local u = tonumber(redis.call('GET', hd.keys[i]) or '0')
    hd.used[i] = u
    if status == 1 and u + hd.costs[i] > hd.limits[i] then status, refusedHolder, refused = 0, h, i end
  end
  if hd.hasBudget then hd.spent = tonumber(redis.call('GET', hd.budgetKey) or '0') end
end
if status == 1 then
  for h, hd in ipairs(holders) do
    if hd.hasBudget and hd.spent + hd.cost > hd.limit then
      status, refusedHolder = -2, h
      break
    end
  end
end
if status == 1 and credits and credits.balance < credits.cost then status = -3 end
if status == 1 and lease then
  for _, cap in ipairs(lease.caps) do
    if cap.count >= cap.max then
      status, refusedHolder, refused = -4, cap.holder, cap.max
      break
    end
  end
end
if status == 1 then
  if lease then
    for _, cap in ipairs(lease.caps) do
      redis.call('ZADD', cap.key, lease.expires, lease.id)
      redis.call('PEXPIREAT', cap.key, lease.expires)
    end
  end
  if credits then
    credits.balance = credits.balance - credits.cost
    redis.call('HSET', credits.key, 'remaining', credits.balance, 'period', credits.period)
  end
  for _, hd in ipairs(holders) do
    for i = 1, hd.n do
      hd.used[i] = redis.call('INCRBY', hd.keys[i], hd.costs[i])
      if redis.call('PTTL', hd.keys[i]) < 0 then redis.call('PEXPIRE', hd.keys[i], hd.windows[i]) end
    end
    if hd.hasBudget then
      hd.spent = redis.call('INCRBY', hd.budgetKey, hd.cost)
      if hd.ttl > 0 then redis.call('PEXPIRE', hd.budgetKey, hd.ttl) end
    end
  end
  if replayTtl > 0 then redis.call('SET', KEYS[2], '1', 'PX', replayTtl) end
end
local reply = {status, refusedHolder, refused}
for _, hd in ipairs(holders) do
  reply[#reply + 1] = hd.spent
  for i = 1, hd.n do reply[#reply + 1] = hd.used[i] end
end
if credits then reply[#reply + 1] = credits.balance else reply[#reply + 1] = -1 end
return reply
`;

// KEYS[1] a key's credit balance hash. ARGV: initial balance, refill amount (-1 = none),
// refill period, 'add' | 'set', amount, maximum. Returns the balance after the change.
// Undoes an admission. KEYS[1] key lease set, KEYS[2] owner lease set, KEYS[3] credits hash,
// then request windows to give one back each. ARGV[1] lease id ('' = none), ARGV[2] refund (0/1),
// ARGV[3] credits to give back.
const RELEASE_SCRIPT = `
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if ARGV[2] ~= '1' then return 0 end
for i = 4, #KEYS do
  if redis.call('DECR', KEYS[i]) < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
end
local credits = tonumber(ARGV[3])
if credits > 0 and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], 'remaining', credits) end
return 1
`;

const CREDITS_CHANGE_SCRIPT = `
local stored = redis.call('HMGET', KEYS[1], 'remaining', 'period')
local balance
if not stored[1] then balance = tonumber(ARGV[1])
elseif tonumber(ARGV[2]) >= 0 and stored[2] ~= ARGV[3] then balance = tonumber(ARGV[2])
else balance = tonumber(stored[1]) end
if ARGV[4] == 'add' then balance = balance + tonumber(ARGV[5]) else balance = tonumber(ARGV[5]) end
if balance < 0 then balance = 0 end
if balance > tonumber(ARGV[6]) then balance = tonumber(ARGV[6]) end
redis.call('HSET', KEYS[1], 'remaining', balance, 'period', ARGV[3])
return balance
`;

// KEYS[1] budget. ARGV[1] delta (may be negative). Never below zero.
const BUDGET_ADJUST_SCRIPT = `
local after = redis.call('INCRBY', KEYS[1], ARGV[1])
if after < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') return 0 end
return after
`;

const DAY_MS = 86_400_000;

/** The SDK's client without auto-pipelining, plus one /pipeline request of given commands. */
class AdmissionRedis extends Redis {
  /** The response body: an array of replies, one per command (see firstReply). */
  pipelineRequest(commands: (string | number)[][]): Promise<unknown> {
    return this.client.request({ path: ['pipeline'], body: commands });
  }
}

type PipelineReply = { result?: unknown; error?: string };

function firstReply(body: unknown): PipelineReply | undefined {
  if (!Array.isArray(body)) throw new Error('Command failed: the /pipeline response is not an array');
  return body[0] as PipelineReply | undefined;
}

/**
 * A Lua script run by its SHA-1 (EVALSHA), falling back to EVAL when Redis answers NOSCRIPT
 * (a new or flushed instance). run() issues its command synchronously once the digest is
 * known, so on the auto-pipelining client it joins the current batch.
 */
class LuaScript {
  sha1 = '';
  readonly ready: Promise<void>;

  constructor(readonly source: string) {
    this.ready = crypto.subtle.digest('SHA-1', new TextEncoder().encode(source)).then((buf) => {
      this.sha1 = [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
    });
  }

  run<T>(redis: Redis, keys: string[], args: string[]): Promise<T> {
    if (!this.sha1) return this.ready.then(() => this.run<T>(redis, keys, args));
    return redis.evalsha<string[], T>(this.sha1, keys, args).catch((error: unknown) => {
      if (error instanceof Error && error.message.toLowerCase().includes('noscript')) return redis.eval<string[], T>(this.source, keys, args);
      throw error;
    });
  }

  /** The script as the only command of one /pipeline request; EVAL when Redis lacks it. */
  async runAlone<T>(redis: AdmissionRedis, keys: string[], args: string[]): Promise<T> {
    if (!this.sha1) await this.ready;
    const reply = firstReply(await redis.pipelineRequest([['evalsha', this.sha1, keys.length, ...keys, ...args]]));
    if (!reply?.error) return reply?.result as T;
    if (!reply.error.toLowerCase().includes('noscript')) throw new Error(`Command failed: ${reply.error}`);
    const evaluated = firstReply(await redis.pipelineRequest([['eval', this.source, keys.length, ...keys, ...args]]));
    if (evaluated?.error) throw new Error(`Command failed: ${evaluated.error}`);
    return evaluated?.result as T;
  }
}
const MARKER_TTL_S = 400 * 86_400;

export interface UpstashStoreOptions {
  url: string;
  token: string;
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

  constructor(opts: UpstashStoreOptions) {
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

  async admit(input: AdmitInput): Promise<AdmitOutcome> {
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
    const reply = await this.#admit.runAlone<(number | string)[]>(this.#admission, keys, args);
    const status = Number(reply[0]);
    if (status === -1) return { status: 'blocked', reason: blockReasonFrom(reply[1]) };
    if (status === -5) return { status: 'replayed' };
    const key = holderState(reply, 3, counters, budget, now);
    const ownerState = owner ? holderState(reply, 3 + 1 + counters.length, owner.counters, owner.budget, now) : undefined;
    const balance = Number(reply[3 + 1 + counters.length + (owner ? 1 + owner.counters.length : 0)]);
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

