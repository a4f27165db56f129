// The zero-config limit store: one SQLite-backed Durable Object per key. A Durable Object
// runs one request at a time and its SQL API is synchronous, so check-then-consume over all
// of a key's windows and budget is atomic: exact, all or nothing, no compensation needed.

import { DurableObject } from 'cloudflare:workers';
import type { BlockReason } from '../keys/status';
import { blockReasonFrom, budgetStateOf, bucketOf, counterStateOf, markerFlag, ticketFor, windowEnd, type AdmitInput, type AdmitOutcome, type BudgetSpec, type CounterSpec, type CounterState, type Settlement, type Ticket, type UsageSnapshot } from './store';

const DAY_MS = 86_400_000;

// The object reads no bindings: typed with the runtime's global Env rather than src/env.ts,
// which names this class for the LIMITER binding, so the two modules do not import each other.
export class LimiterObject extends DurableObject {
  private readonly sql: SqlStorage;
  private lastSweep = 0;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, bucket INTEGER NOT NULL, used INTEGER NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (name, bucket));
      CREATE TABLE IF NOT EXISTS budget (period_key TEXT PRIMARY KEY, spent INTEGER NOT NULL, expires INTEGER);
      CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS replays (id TEXT PRIMARY KEY, expires INTEGER NOT NULL);
    `);
  }

  private used(name: string, bucket: number): number {
    const row = this.sql.exec<{ used: number }>('SELECT used FROM counters WHERE name = ? AND bucket = ?', name, bucket).toArray()[0];
    return row?.used ?? 0;
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
  }

  private spent(periodKey: string): number {
    const row = this.sql.exec<{ spent: number }>('SELECT spent FROM budget WHERE period_key = ?', periodKey).toArray()[0];
    return row?.spent ?? 0;
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
  }

  private blocked(flag: string): BlockReason | null {
    const row = this.sql.exec<{ value: string }>('SELECT value FROM flags WHERE name = ?', flag).toArray()[0];
    return row ? blockReasonFrom(row.value) : null;
  }

  private state(c: CounterSpec, now: number): CounterState {
    const bucket = bucketOf(now, c.windowMs);
    return counterStateOf(c, this.used(c.name, bucket), bucket);
  }

  admit(input: AdmitInput): AdmitOutcome {
    const blocked = this.blocked(markerFlag(input.keyId, input.counterId));
    if (blocked) return { status: 'blocked', reason: blocked };
    const { now, counters, budget, replay } = input;
    // A signed request's token id, per key (a lineage's object holds several keys).
    const replayId = replay ? `${input.keyId}:${replay.id}` : null;
    if (replayId !== null && this.sql.exec('SELECT 1 FROM replays WHERE id = ? AND expires > ?', replayId, now).toArray().length > 0) return { status: 'replayed' };
    // Old windows are swept at most once a minute, not on every admission.
    if (now - this.lastSweep > 60_000) {
      this.sql.exec('DELETE FROM counters WHERE expires <= ?', now);
      this.sql.exec('DELETE FROM replays WHERE expires <= ?', now);
      // Budget periods are kept a day past their end, then go ('total' has no end).
      this.sql.exec('DELETE FROM budget WHERE expires IS NOT NULL AND expires <= ?', now);
      this.lastSweep = now;
    }
    const states = counters.map((c) => this.state(c, now));
    const refused = states.findIndex((s, i) => s.used + counters[i]!.cost > s.limit);
    const spent = budget ? this.spent(budget.periodKey) : 0;
    if (refused !== -1) {
      return { status: 'rate_limited', refusedBy: states[refused]!, counters: states, budget: budget && budgetStateOf(budget, spent) };
    }
    if (budget && spent + budget.costMicros > budget.limitMicros) {
      return { status: 'budget_exhausted', counters: states, budget: budgetStateOf(budget, spent) };
    }
    // One transaction: a write that fails (a constraint, a bad value) rolls back the others, so
    // a request is never charged part of its admission, nor its token id recorded without it.
    this.ctx.storage.transactionSync(() => {
      for (const c of counters) this.add(c.name, bucketOf(now, c.windowMs), c.windowMs, c.cost);
      if (budget) this.addSpend(budget.periodKey, budget.costMicros, budget.resetAt === null ? null : budget.resetAt + DAY_MS);
      if (replayId !== null) {
        this.sql.exec('INSERT INTO replays (id, expires) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET expires = excluded.expires', replayId, replay!.expiresAt);
      }
    });
    const after = states.map((s, i) => ({ ...s, used: s.used + counters[i]!.cost, remaining: Math.max(0, s.remaining - counters[i]!.cost) }));
    return {
      status: 'admitted',
      counters: after,
      budget: budget && budgetStateOf(budget, spent + budget.costMicros),
      ticket: ticketFor(input.counterId ?? input.keyId, counters, budget, now),
    };
  }

  settle(ticket: Ticket, s: Settlement): void {
    this.ctx.storage.transactionSync(() => this.applySettlement(ticket, s));
  }

  private applySettlement(ticket: Ticket, s: Settlement): void {
    if (s.tokenDelta !== 0) {
      for (const w of ticket.tokenWindows) {
        const current = bucketOf(s.now, w.windowMs);
        // A refund into a window that has already ended would give the next window free capacity.
        if (s.tokenDelta < 0 && current !== w.bucket) continue;
        this.add(w.name, current, w.windowMs, s.tokenDelta);
      }
    }
    if (ticket.budget && s.costDeltaMicros !== 0) this.addSpend(ticket.budget.periodKey, s.costDeltaMicros, null);
  }

  setBlocked(reason: BlockReason | null, flag = 'blocked'): void {
    if (reason) this.sql.exec('INSERT INTO flags (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', flag, reason);
    else this.sql.exec('DELETE FROM flags WHERE name = ?', flag);
  }

  usage(counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): UsageSnapshot {
    return { counters: counters.map((c) => this.state(c, now)), budget: budget && budgetStateOf(budget, this.spent(budget.periodKey)) };
  }
}
