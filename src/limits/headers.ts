// Rate-limit response headers: the IETF RateLimit-Policy / RateLimit fields for the
// tightest limit, and the OpenAI-style x-ratelimit-* headers LLM SDKs already read.

import type { BudgetState, CounterState } from './store';

/** The counter closest to exhaustion (smallest remaining share; the shorter window on ties). */
export function tightest(counters: readonly CounterState[]): CounterState | undefined {
  let best: CounterState | undefined;
  let bestShare = Infinity;
  for (const c of counters) {
    const share = c.limit === 0 ? 0 : c.remaining / c.limit;
    if (share < bestShare || (share === bestShare && best && c.windowMs < best.windowMs)) {
      best = c;
      bestShare = share;
    }
  }
  return best;
}

const secondsUntil = (at: number, now: number) => Math.max(0, Math.ceil((at - now) / 1000));

/** OpenAI's reset format: 20ms, 1s, 6m0s, 1h2m3s. */
export function openAiDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let s = Math.ceil(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * RateLimit-Policy / RateLimit list the tightest window and, when the key has one, the spend
 * budget as the policy `budget` (quota and remaining in micro-USD, the period as the window),
 * so a budget-only route's responses carry them too.
 */
export function rateLimitHeaders(counters: readonly CounterState[], now: number, llm: boolean, budget?: BudgetState): Record<string, string> {
  const out: Record<string, string> = {};
  const policies: string[] = [];
  const states: string[] = [];
  const t = tightest(counters);
  if (t) {
    const name = t.name.replace(/[^A-Za-z0-9:._-]/g, '_');
    policies.push(`"${name}";q=${t.limit};w=${Math.round(t.windowMs / 1000)}`);
    states.push(`"${name}";r=${t.remaining};t=${secondsUntil(t.resetAt, now)}`);
  }
  if (budget) {
    const w = budgetWindowSeconds(budget);
    policies.push(`"budget";q=${budget.limitMicros}${w === null ? '' : `;w=${w}`}`);
    states.push(`"budget";r=${budget.remainingMicros}${budget.resetAt === null ? '' : `;t=${secondsUntil(budget.resetAt, now)}`}`);
  }
  if (policies.length > 0) {
    out['ratelimit-policy'] = policies.join(', ');
    out.ratelimit = states.join(', ');
  }
  if (llm) {
    for (const kind of ['requests', 'tokens'] as const) {
      const c = tightest(counters.filter((x) => x.kind === kind));
      if (!c) continue;
      out[`x-ratelimit-limit-${kind}`] = String(c.limit);
      out[`x-ratelimit-remaining-${kind}`] = String(c.remaining);
      out[`x-ratelimit-reset-${kind}`] = openAiDuration(c.resetAt - now);
    }
  }
  return out;
}

/** A budget period's length in seconds: a UTC day, the calendar month ending at resetAt; none for `total`. */
function budgetWindowSeconds(budget: BudgetState): number | null {
  if (budget.resetAt === null || budget.period === 'total') return null;
  if (budget.period === 'day') return 86_400;
  const end = new Date(budget.resetAt);
  const start = Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1);
  return Math.round((budget.resetAt - start) / 1000);
}

export function retryAfterSeconds(resetAt: number | null, now: number): string | undefined {
  return resetAt === null ? undefined : String(Math.max(1, secondsUntil(resetAt, now)));
}

export function budgetHeaders(budget: BudgetState | undefined): Record<string, string> {
  if (!budget) return {};
  return {
    'x-budget-limit-usd': (budget.limitMicros / 1e6).toFixed(6),
    'x-budget-remaining-usd': (budget.remainingMicros / 1e6).toFixed(6),
  };
}
