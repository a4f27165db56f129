// Limit store on Upstash Redis. Request and token windows use @upstash/ratelimit fixed
// windows (one instance per window size and limit); the revocation marker and the spend
// budget are one small script. All of it is issued in the same tick on one auto-pipelining
// client, so an admission is ONE /pipeline HTTP round trip. Fixed-window increments are not
// conditional, so a refused request is compensated (a negative rate) in a second round trip.

import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis/cloudflare';
import { LruCache } from '../lib/lru';
import {
  bucketOf,
  windowEnd,
  type AdmitInput,
  type AdmitOutcome,
  BLOCK_REASONS,
  type BlockReason,
  type BudgetSpec,
  type BudgetState,
  type CounterSpec,
  type CounterState,
  type LimitStore,
  type Settlement,
  type Ticket,
  type UsageSnapshot,
} from './store';

const NS = 'kg';
const revokedKey = (keyId: string) => `${NS}:revoked:${keyId}`;
const budgetKey = (keyId: string, periodKey: string) => `${NS}:budget:${keyId}:${periodKey}`;
const counterPrefix = (name: string) => `${NS}:rl:${name}`;
// Same layout @upstash/ratelimit's fixed window uses: <prefix>:<identifier>:<bucket>.
const counterKey = (name: string, keyId: string, bucket: number) => `${counterPrefix(name)}:${keyId}:${bucket}`;

// KEYS[1] revocation marker, KEYS[2] budget (optional).
// ARGV[1] budget limit, ARGV[2] cost (micro-USD), ARGV[3] budget TTL ms (0 = none).
// Returns {-1, reason} blocked | {0, spent} budget refused | {1, spent after}.
const GATE_SCRIPT = `
local blocked = redis.call('GET', KEYS[1])
if blocked then return {-1, blocked} end
if #KEYS < 2 then return {1, 0} end
local spent = tonumber(redis.call('GET', KEYS[2]) or '0')
local cost = tonumber(ARGV[2])
if spent + cost > tonumber(ARGV[1]) then return {0, spent} end
local after = redis.call('INCRBY', KEYS[2], cost)
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return {1, after}
`;

// KEYS[1] budget. ARGV[1] delta (may be negative). Never below zero.
const BUDGET_ADJUST_SCRIPT = `
local after = redis.call('INCRBY', KEYS[1], ARGV[1])
if after < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') return 0 end
return after
`;

const DAY_MS = 86_400_000;

/**
 * A Lua script run with EVALSHA (EVAL once when Redis answers NOSCRIPT). Unlike the SDK's
 * Script, run() issues its command synchronously, so it joins the current auto-pipeline
 * batch instead of leaving as a second HTTP request.
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
}
const MARKER_TTL_S = 400 * 86_400;

export interface UpstashStoreOptions {
  url: string;
  token: string;
}

export class UpstashLimitStore implements LimitStore {
  readonly kind = 'upstash' as const;
  readonly redis: Redis;
  // One Ratelimit per (counter name, limit, window); bounded.
  readonly #limiters = new LruCache<string, Ratelimit>(2_000, 3_600_000);
  readonly #gate = new LuaScript(GATE_SCRIPT);
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
        // compensation and settlement; analytics and protection stay off (no internet).
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
    await this.#gate.ready;
    // Everything below is issued synchronously in this tick: one pipeline, one round trip.
    const limitCalls = counters.map((c) => this.limiter(c).limit(keyId, { rate: c.cost }));
    const gateCall = this.#gate.run<[number, number | string]>(
      this.redis,
      budget ? [revokedKey(keyId), budgetKey(keyId, budget.periodKey)] : [revokedKey(keyId)],
      budget ? [String(budget.limitMicros), String(budget.costMicros), String(budgetTtlMs(budget, now))] : [],
    );
    const [gate, ...results] = await Promise.all([gateCall, ...limitCalls]);
    const gateStatus = Number(gate[0]);
    if (gateStatus === -1) {
      await this.compensate(keyId, counters, undefined);
      return { status: 'blocked', reason: asBlockReason(gate[1]) };
    }
    const spent = Number(gate[1]);

    const admitted = gateStatus === 1 && results.every((r) => r.success);
    // Counter states as the client should see them: after this request if admitted, else
    // as they are once the refusal has been compensated.
    const states: CounterState[] = counters.map((c, i) => {
      const r = results[i]!;
      const remaining = admitted || !r.success ? r.remaining : Math.min(c.limit, r.remaining + c.cost);
      return { name: c.name, kind: c.kind, limit: c.limit, used: c.limit - remaining, remaining, windowMs: c.windowMs, resetAt: r.reset };
    });
    if (admitted) {
      return { status: 'admitted', counters: states, budget: budget && budgetStateOf(budget, spent), ticket: ticketFor(keyId, counters, budget, now) };
    }
    // All or nothing: undo every increment this request made (a second round trip).
    await this.compensate(keyId, counters, gateStatus === 1 ? budget : undefined);
    if (gateStatus === 0 && budget) return { status: 'budget_exhausted', counters: states, budget: budgetStateOf(budget, spent) };
    const refusedBy = states[results.findIndex((r) => !r.success)]!;
    return { status: 'rate_limited', refusedBy, counters: states, budget: budget && budgetStateOf(budget, spent - budget.costMicros) };
  }

  private async compensate(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined): Promise<void> {
    await Promise.all([
      ...counters.filter((c) => c.cost > 0).map((c) => this.limiter(c).limit(keyId, { rate: -c.cost })),
      ...(budget && budget.costMicros > 0 ? [this.#adjust.run(this.redis, [budgetKey(keyId, budget.periodKey)], [String(-budget.costMicros)])] : []),
    ]);
  }

  async settle(ticket: Ticket, s: Settlement): Promise<void> {
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
      return { name: c.name, kind: c.kind, limit: c.limit, used, remaining: Math.max(0, c.limit - used), windowMs: c.windowMs, resetAt: windowEnd(bucketOf(now, c.windowMs), c.windowMs) };
    });
    return { counters: states, budget: budget ? budgetStateOf(budget, Number(values[counters.length] ?? 0)) : undefined };
  }
}

function asBlockReason(value: unknown): BlockReason {
  return BLOCK_REASONS.find((r) => r === value) ?? 'key_revoked';
}

function budgetTtlMs(budget: BudgetSpec, now: number): number {
  return budget.resetAt === null ? 0 : budget.resetAt - now + DAY_MS;
}

export function budgetStateOf(budget: Pick<BudgetSpec, 'limitMicros' | 'period' | 'resetAt'>, spent: number): BudgetState {
  const s = Math.max(0, spent);
  return { limitMicros: budget.limitMicros, spentMicros: s, remainingMicros: Math.max(0, budget.limitMicros - s), period: budget.period, resetAt: budget.resetAt };
}

export function ticketFor(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Ticket {
  return {
    keyId,
    tokenWindows: counters.filter((c) => c.kind === 'tokens').map((c) => ({ name: c.name, limit: c.limit, windowMs: c.windowMs, bucket: bucketOf(now, c.windowMs) })),
    budget: budget ? { periodKey: budget.periodKey, period: budget.period, limitMicros: budget.limitMicros } : undefined,
  };
}
