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
import { boundedSettlement } from './admit-input';
import {
  blockReasonFrom,
  budgetStateOf,
  bucketOf,
  counterStateOf,
  ticketFor,
  type AdmitInput,
  type AdmitOutcome,
  type BudgetSpec,
  type CounterSpec,
  type CounterState,
  type LimitStore,
  type Settlement,
  type Ticket,
  type UsageSnapshot,
} from './store';
import type { BlockReason } from '../keys/status';

const NS = 'kg';
const revokedKey = (keyId: string) => `${NS}:revoked:${keyId}`;
const budgetKey = (keyId: string, periodKey: string) => `${NS}:budget:${keyId}:${periodKey}`;
const replayKey = (keyId: string, id: string) => `${NS}:jti:${keyId}:${id}`;
const counterPrefix = (name: string) => `${NS}:rl:${name}`;
// Same layout @upstash/ratelimit's fixed window uses: <prefix>:<identifier>:<bucket>.
const counterKey = (name: string, keyId: string, bucket: number) => `${counterPrefix(name)}:${keyId}:${bucket}`;

// KEYS[1] revocation marker, KEYS[2] budget, KEYS[3] a signed request's token id, KEYS[4..] one
// fixed window per counter. ARGV[1] has budget (0/1), ARGV[2] budget limit, ARGV[3] budget
// cost, ARGV[4] budget TTL ms (0 = none), ARGV[5] token id TTL ms (0 = no token), then per
// counter: limit, cost, window ms.
// Returns {-1, reason} blocked | {-3} token id seen | {0, refused index, spent, used...} rate
// limited | {-2, 0, spent, used...} budget refused | {1, 0, spent after, used after...}.
const ADMIT_SCRIPT = `
local blocked = redis.call('GET', KEYS[1])
if blocked then return {-1, blocked} end
local replayTtl = tonumber(ARGV[5])
if replayTtl > 0 and redis.call('EXISTS', KEYS[3]) == 1 then return {-3} end
local n = #KEYS - 3
local used = {}
local refused = 0
for i = 1, n do
  local u = tonumber(redis.call('GET', KEYS[i + 3]) or '0')
  used[i] = u
  if refused == 0 and u + tonumber(ARGV[5 + (i - 1) * 3 + 2]) > tonumber(ARGV[5 + (i - 1) * 3 + 1]) then refused = i end
end
local hasBudget = ARGV[1] == '1'
local spent = 0
if hasBudget then spent = tonumber(redis.call('GET', KEYS[2]) or '0') end
if refused > 0 then return {0, refused, spent, unpack(used)} end
if hasBudget and spent + tonumber(ARGV[3]) > tonumber(ARGV[2]) then return {-2, 0, spent, unpack(used)} end
for i = 1, n do
  local cost = tonumber(ARGV[5 + (i - 1) * 3 + 2])
  local k = KEYS[i + 3]
  used[i] = redis.call('INCRBY', k, cost)
  if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, ARGV[5 + (i - 1) * 3 + 3]) end
end
if hasBudget then
  spent = redis.call('INCRBY', KEYS[2], ARGV[3])
  if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
end
if replayTtl > 0 then redis.call('SET', KEYS[3], '1', 'PX', replayTtl) end
return {1, 0, spent, unpack(used)}
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
    const { keyId, counters, budget, now } = input;
    const counterId = input.counterId ?? keyId;
    const replay = input.replay;
    const keys = [revokedKey(keyId), budget ? budgetKey(counterId, budget.periodKey) : `${NS}:budget:none`, replay ? replayKey(keyId, replay.id) : `${NS}:jti:none`];
    const args = budget ? ['1', String(budget.limitMicros), String(budget.costMicros), String(budgetTtlMs(budget, now))] : ['0', '0', '0', '0'];
    args.push(replay ? String(Math.max(1, Math.ceil(replay.expiresAt - now))) : '0');
    for (const c of counters) {
      keys.push(counterKey(c.name, counterId, bucketOf(now, c.windowMs)));
      args.push(String(c.limit), String(c.cost), String(c.windowMs));
    }
    const reply = await this.#admit.runAlone<(number | string)[]>(this.#admission, keys, args);
    const status = Number(reply[0]);
    if (status === -1) return { status: 'blocked', reason: blockReasonFrom(reply[1]) };
    if (status === -3) return { status: 'replayed' };
    const spent = Number(reply[2]);
    const states: CounterState[] = counters.map((c, i) => {
      const used = Number(reply[3 + i] ?? 0);
      return counterStateOf(c, used, bucketOf(now, c.windowMs));
    });
    const budgetState = budget && budgetStateOf(budget, spent);
    if (status === 1) return { status: 'admitted', counters: states, budget: budgetState, ticket: ticketFor(counterId, counters, budget, now) };
    if (status === -2 && budget) return { status: 'budget_exhausted', counters: states, budget: budgetStateOf(budget, spent) };
    return { status: 'rate_limited', refusedBy: states[Number(reply[1]) - 1]!, counters: states, budget: budgetState };
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
    await Promise.all(calls);
  }

  async setBlocked(keyId: string, reason: BlockReason | null): Promise<void> {
    if (reason) await this.redis.set(revokedKey(keyId), reason, { ex: MARKER_TTL_S });
    else await this.redis.del(revokedKey(keyId));
  }

  async usage(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Promise<UsageSnapshot> {
    const keys = counters.map((c) => counterKey(c.name, keyId, bucketOf(now, c.windowMs)));
    if (budget) keys.push(budgetKey(keyId, budget.periodKey));
    const values = keys.length ? await this.redis.mget<(string | number | null)[]>(...keys) : [];
    const states = counters.map((c, i) => {
      const used = Math.max(0, Number(values[i] ?? 0));
      return counterStateOf(c, used, bucketOf(now, c.windowMs));
    });
    return { counters: states, budget: budget ? budgetStateOf(budget, Number(values[counters.length] ?? 0)) : undefined };
  }
}


function budgetTtlMs(budget: BudgetSpec, now: number): number {
  return budget.resetAt === null ? 0 : budget.resetAt - now + DAY_MS;
}

