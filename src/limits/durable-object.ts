// The zero-config limit store: one SQLite-backed Durable Object per key. A Durable Object
// runs one request at a time and its SQL API is synchronous, so check-then-consume over all
// of a key's windows and budget is atomic: exact, all or nothing, no compensation needed.

import { DurableObject } from 'cloudflare:workers';
import type { BlockReason } from '../keys/status';
import { MAX_AMOUNT } from './admit-input';
import { RowCache } from './row-cache';
import { blockReasonFrom, budgetStateOf, bucketOf, counterStateOf, markerFlag, completeTicket, ticketFor, windowEnd, type AdmitInput, type CreditsChange, type CreditsSpec, type CreditsState, type Holder, type AdmitOutcome, type BudgetSpec, type CounterSpec, type CounterState, type Settlement, type Ticket, type UsageSnapshot } from './store';
import { changedBalance, creditsBalance, creditsPeriod, creditsStateOf } from './credits';

const DAY_MS = 86_400_000;

// In an owner's object (see ownerShard) counter and budget names carry their holder: the
// owner's own, or one key's (by counter id). A key's own object uses bare names.
export const OWNER_PREFIX = 'o:';
export const KEY_PREFIX = 'k:';
const keyPrefix = (input: AdmitInput): string => (input.owner ? `${KEY_PREFIX}${input.counterId ?? input.keyId}:` : '');

/** One admission's answer in admitMany(): its outcome, or the message of what it threw. */
export type BatchAnswer = { ok: true; value: AdmitOutcome } | { ok: false; error: string };

interface HolderPart {
  holder: Holder;
  prefix: string;
  counters: CounterSpec[];
  budget: BudgetSpec | undefined;
  states: CounterState[];
  spent: number;
}

// The object reads no bindings: typed with the runtime's global Env rather than src/env.ts,
// which names this class for the LIMITER binding, so the two modules do not import each other.
export class LimiterObject extends DurableObject {
  private readonly sql: SqlStorage;
  private lastSweep = 0;
  // Rows this object has read or written (see row-cache.ts): window counts by `name\0bucket`,
  // budget spend by period key, markers by flag name (null: no marker).
  private readonly counts = new RowCache<number>(10_000);
  private readonly spends = new RowCache<number>(1_000);
  private readonly flags = new RowCache<BlockReason | null>(10_000);

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, bucket INTEGER NOT NULL, used INTEGER NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (name, bucket));
      CREATE TABLE IF NOT EXISTS budget (period_key TEXT PRIMARY KEY, spent INTEGER NOT NULL, expires INTEGER);
      CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS credits (name TEXT PRIMARY KEY, remaining INTEGER NOT NULL, period TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS leases (holder TEXT NOT NULL, id TEXT NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (holder, id));
      CREATE TABLE IF NOT EXISTS replays (id TEXT PRIMARY KEY, expires INTEGER NOT NULL);
    `);
  }

  private used(name: string, bucket: number): number {
    const key = `${name}\0${bucket}`;
    const cached = this.counts.get(key);
    if (cached !== undefined) return cached;
    const row = this.sql.exec<{ used: number }>('SELECT used FROM counters WHERE name = ? AND bucket = ?', name, bucket).toArray()[0];
    const used = row?.used ?? 0;
    this.counts.set(key, used);
    return used;
  }

  private add(name: string, bucket: number, windowMs: number, delta: number): void {
    this.sql.exec(
      `INSERT INTO counters (name, bucket, used, expires) VALUES (?, ?, MAX(0, ?), ?)
       ON CONFLICT (name, bucket) DO UPDATE SET used = MAX(0, used + ?)`,
      name,
      bucket,
      delta,
      windowEnd(bucket, windowMs),
      delta,
    );
    // The same arithmetic as the statement, on the value it started from (read first).
    const key = `${name}\0${bucket}`;
    const before = this.counts.get(key);
    if (before !== undefined) this.counts.set(key, Math.max(0, before + delta));
  }

  private spent(periodKey: string): number {
    const cached = this.spends.get(periodKey);
    if (cached !== undefined) return cached;
    const row = this.sql.exec<{ spent: number }>('SELECT spent FROM budget WHERE period_key = ?', periodKey).toArray()[0];
    const spent = row?.spent ?? 0;
    this.spends.set(periodKey, spent);
    return spent;
  }

  private addSpend(periodKey: string, delta: number, expires: number | null): void {
    this.sql.exec(
      `INSERT INTO budget (period_key, spent, expires) VALUES (?, MAX(0, ?), ?)
       ON CONFLICT (period_key) DO UPDATE SET spent = MAX(0, spent + ?)`,
      periodKey,
      delta,
      expires,
      delta,
    );
    const before = this.spends.get(periodKey);
    if (before !== undefined) this.spends.set(periodKey, Math.max(0, before + delta));
  }

  private blocked(flag: string): BlockReason | null {
    const cached = this.flags.get(flag);
    if (cached !== undefined) return cached;
    const row = this.sql.exec<{ value: string }>('SELECT value FROM flags WHERE name = ?', flag).toArray()[0];
    const reason = row ? blockReasonFrom(row.value) : null;
    this.flags.set(flag, reason);
    return reason;
  }

  /** One transaction; when it fails, what the caches learnt inside it is forgotten with it. */
  private atomically(writes: () => void): void {
    try {
      this.ctx.storage.transactionSync(writes);
    } catch (error) {
      this.counts.clear();
      this.spends.clear();
      throw error;
    }
  }

  private state(c: CounterSpec, now: number, prefix = ''): CounterState {
    const bucket = bucketOf(now, c.windowMs);
    return counterStateOf(c, this.used(prefix + c.name, bucket), bucket);
  }

  /**
   * Several admissions in one call (group commit): each is decided and written on its own, in
   * order, exactly as admit() would; one that throws answers its error and leaves the others.
   */
  admitMany(inputs: AdmitInput[]): BatchAnswer[] {
    return inputs.map((input) => {
      try {
        return { ok: true, value: this.admit(input) };
      } catch (error) {
        return { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    });
  }

  admit(input: AdmitInput): AdmitOutcome {
    const blocked = this.blocked(markerFlag(input.keyId, input.counterId, input.owner !== undefined));
    if (blocked) return { status: 'blocked', reason: blocked };
    const { now, replay } = input;
    // A signed request's token id, per key (a lineage's or owner's object holds several keys);
    // checked before anything is consumed, so a replayed token consumes nothing.
    const replayId = replay ? `${input.keyId}:${replay.id}` : null;
    if (replayId !== null && this.sql.exec('SELECT 1 FROM replays WHERE id = ? AND expires > ?', replayId, now).toArray().length > 0) return { status: 'replayed' };
    // Old windows are swept at most once a minute, not on every admission.
    if (now - this.lastSweep > 60_000) {
      this.sql.exec('DELETE FROM counters WHERE expires <= ?', now);
      this.sql.exec('DELETE FROM replays WHERE expires <= ?', now);
      // Budget periods are kept a day past their end, then go ('total' has no end).
      this.sql.exec('DELETE FROM budget WHERE expires IS NOT NULL AND expires <= ?', now);
      this.counts.clear();
      this.spends.clear();
      this.lastSweep = now;
    }
    // The holders this object counts for: the key, then its owner when the owner has limits
    // (this is then the owner's object, and every name carries its holder's prefix).
    const holders: HolderPart[] = [{ holder: 'key', prefix: keyPrefix(input), counters: input.counters, budget: input.budget, states: [], spent: 0 }];
    if (input.owner) holders.push({ holder: 'owner', prefix: OWNER_PREFIX, counters: input.owner.counters, budget: input.owner.budget, states: [], spent: 0 });
    for (const h of holders) {
      h.states = h.counters.map((c) => this.state(c, now, h.prefix));
      h.spent = h.budget ? this.spent(h.prefix + h.budget.periodKey) : 0;
    }
    for (const h of holders) {
      const refused = h.states.findIndex((s, i) => s.used + h.counters[i]!.cost > s.limit);
      if (refused !== -1) {
        return { status: 'rate_limited', holder: h.holder, refusedBy: h.states[refused]!, counters: h.states, budget: h.budget && budgetStateOf(h.budget, h.spent) };
      }
    }
    for (const h of holders) {
      if (h.budget && h.spent + h.budget.costMicros > h.budget.limitMicros) {
        return { status: 'budget_exhausted', holder: h.holder, counters: h.states, budget: budgetStateOf(h.budget, h.spent) };
      }
    }
    const credits = input.credits;
    const creditsName = `${keyPrefix(input)}credits`;
    const storedCredits = credits ? this.storedCredits(creditsName) : null;
    const balance = credits ? creditsBalance(credits, storedCredits) : 0;
    if (credits && balance < credits.cost) return { status: 'credits_exhausted', credits: creditsStateOf(credits, balance) };
    const lease = input.lease;
    const leaseHolders: string[] = [];
    if (lease) {
      const caps: [Holder, string, number | undefined][] = [['key', keyPrefix(input), lease.keyMax], ['owner', OWNER_PREFIX, input.owner ? lease.ownerMax : undefined]];
      for (const [holder, prefix, max] of caps) {
        if (max === undefined) continue;
        // Leases of isolates that died expire on their own.
        this.sql.exec('DELETE FROM leases WHERE holder = ? AND expires <= ?', prefix, now);
        const inFlight = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM leases WHERE holder = ?', prefix).one().n;
        if (inFlight >= max) return { status: 'too_many_concurrent_requests', holder, limit: max };
        leaseHolders.push(prefix);
      }
    }
    // One transaction: a write that fails (a constraint, a bad value) rolls back the others, so
    // a request is never charged part of its admission, nor its token id recorded without it.
    this.atomically(() => {
      if (credits) this.storeCredits(creditsName, balance - credits.cost, creditsPeriod(credits, storedCredits));
      for (const prefix of leaseHolders) this.sql.exec('INSERT INTO leases (holder, id, expires) VALUES (?, ?, ?)', prefix, lease!.id, lease!.expiresAt);
      for (const h of holders) {
        // A window this request costs nothing in (a token window before metering) needs no write.
        for (const c of h.counters) if (c.cost !== 0) this.add(h.prefix + c.name, bucketOf(now, c.windowMs), c.windowMs, c.cost);
        if (h.budget) this.addSpend(h.prefix + h.budget.periodKey, h.budget.costMicros, h.budget.resetAt === null ? null : h.budget.resetAt + DAY_MS);
      }
      if (replayId !== null) {
        this.sql.exec('INSERT INTO replays (id, expires) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET expires = excluded.expires', replayId, replay!.expiresAt);
      }
    });
    const [key, owner] = holders.map((h) => ({
      counters: h.states.map((s, i) => ({ ...s, used: s.used + h.counters[i]!.cost, remaining: Math.max(0, s.remaining - h.counters[i]!.cost) })),
      budget: h.budget && budgetStateOf(h.budget, h.spent + h.budget.costMicros),
    }));
    const ticket = completeTicket(ticketFor(input.counterId ?? input.keyId, input.counters, input.budget, now), input, now);
    return {
      status: 'admitted',
      counters: key!.counters,
      budget: key!.budget,
      ...(owner ? { owner } : {}),
      ...(credits ? { credits: creditsStateOf(credits, balance - credits.cost) } : {}),
      ticket,
    };
  }

  release(ticket: Ticket, refund: boolean, now: number): void {
    const keyNames = ticket.owner ? `${KEY_PREFIX}${ticket.keyId}:` : '';
    this.atomically(() => {
      const lease = ticket.lease;
      if (lease?.key) this.sql.exec('DELETE FROM leases WHERE holder = ? AND id = ?', keyNames, lease.id);
      if (lease?.owner) this.sql.exec('DELETE FROM leases WHERE holder = ? AND id = ?', OWNER_PREFIX, lease.id);
      if (!refund) return;
      const giveBack = (prefix: string, windows: Ticket['requestWindows']) => {
        for (const w of windows ?? []) if (bucketOf(now, w.windowMs) === w.bucket) this.add(prefix + w.name, w.bucket, w.windowMs, -1);
      };
      giveBack(keyNames, ticket.requestWindows);
      if (ticket.owner) giveBack(OWNER_PREFIX, ticket.owner.requestWindows);
      if (ticket.credits) {
        const stored = this.storedCredits(`${keyNames}credits`);
        if (stored) this.storeCredits(`${keyNames}credits`, Math.min(stored.remaining + ticket.credits, MAX_AMOUNT), stored.period);
      }
    });
  }

  private storedCredits(name: string): { remaining: number; period: string } | null {
    return this.sql.exec<{ remaining: number; period: string }>('SELECT remaining, period FROM credits WHERE name = ?', name).toArray()[0] ?? null;
  }

  private storeCredits(name: string, remaining: number, period: string): void {
    this.sql.exec('INSERT INTO credits (name, remaining, period) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET remaining = excluded.remaining, period = excluded.period', name, remaining, period);
  }

  /** An admin change to a key's balance; `prefix` as in usage(). */
  changeCredits(spec: CreditsSpec, change: CreditsChange, prefix = ''): CreditsState {
    const name = `${prefix}credits`;
    const stored = this.storedCredits(name);
    const remaining = changedBalance(creditsBalance(spec, stored), change, MAX_AMOUNT);
    this.storeCredits(name, remaining, creditsPeriod(spec, stored));
    return creditsStateOf(spec, remaining);
  }

  settle(ticket: Ticket, s: Settlement): void {
    this.atomically(() => {
      const keyNames = ticket.owner ? `${KEY_PREFIX}${ticket.keyId}:` : '';
      this.applySettlement(keyNames, ticket.tokenWindows, ticket.budget, s);
      if (ticket.owner) this.applySettlement(OWNER_PREFIX, ticket.owner.tokenWindows, ticket.owner.budget, s);
    });
  }

  private applySettlement(prefix: string, tokenWindows: Ticket['tokenWindows'], budget: Ticket['budget'], s: Settlement): void {
    if (s.tokenDelta !== 0) {
      for (const w of tokenWindows) {
        const current = bucketOf(s.now, w.windowMs);
        // A refund into a window that has already ended would give the next window free capacity.
        if (s.tokenDelta < 0 && current !== w.bucket) continue;
        this.add(prefix + w.name, current, w.windowMs, s.tokenDelta);
      }
    }
    if (budget && s.costDeltaMicros !== 0) this.addSpend(prefix + budget.periodKey, s.costDeltaMicros, null);
  }

  setBlocked(reason: BlockReason | null, flag = 'blocked'): void {
    if (reason) this.sql.exec('INSERT INTO flags (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', flag, reason);
    else this.sql.exec('DELETE FROM flags WHERE name = ?', flag);
    this.flags.set(flag, reason);
  }

  /** `prefix`: '' in a key's own object; a key's or the owner's prefix in an owner's object. */
  usage(counters: CounterSpec[], budget: BudgetSpec | undefined, now: number, prefix = '', credits?: CreditsSpec): UsageSnapshot {
    return {
      counters: counters.map((c) => this.state(c, now, prefix)),
      budget: budget && budgetStateOf(budget, this.spent(prefix + budget.periodKey)),
      ...(credits ? { credits: creditsStateOf(credits, creditsBalance(credits, this.storedCredits(`${prefix}credits`))) } : {}),
    };
  }
}
