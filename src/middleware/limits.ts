// Step 4: limits. Reads the body on metered routes (model, token reservation), then asks
// the limit store, in one round trip, to check the revocation marker and consume every
// request window, the token reservation and the spend budget. After the response, settles
// the reservation to the tokens the upstream reported (ctx.waitUntil).

import type { Context } from 'hono';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { budgetHeaders, rateLimitHeaders, retryAfterSeconds } from '../limits/headers';
import {
  budgetSpec,
  costMicros,
  countersForRequest,
  effectivePolicy,
  hasAnyLimit,
  priceFor,
  reservationCostMicros,
} from '../limits/policy';
import type { AdmitOutcome, CounterState, Ticket } from '../limits/store';
import type { EffectivePolicy } from '../limits/policy';
import type { KeyRecord } from '../keys/record';
import { readBodyLimited } from '../proxy/body';
import { modelOf, reservationFor } from '../usage/estimate';
import { meterResponse } from '../usage/meter';
import type { TokenUsage } from '../usage/types';
import { addTiming } from './request-context';

interface MeteredRequest {
  model: string | null;
  reservation: number;
  /** The body as read (and possibly rewritten): it is forwarded instead of the stream. */
  body?: string;
}

/** What step 4 hands to forwarding: a body already read, and what to do with the response. */
export interface Admission {
  /** A body already read (metered routes); otherwise the request body streams through. */
  body: string | undefined;
  /** Token metering and limit headers on the upstream response; identity when unset. */
  onResponse: ((response: Response) => Response) | undefined;
}

/** Nothing read, nothing to add: the path of routes without limits or metering. */
const PASS: Admission = Object.freeze({ body: undefined, onResponse: undefined });

/** Forward the body read (if any) and leave the response alone. */
function unlimited(metered: MeteredRequest): Admission {
  return metered.body === undefined ? PASS : { body: metered.body, onResponse: undefined };
}

type LlmFormat = 'openai' | 'anthropic';

const UNMETERED: MeteredRequest = Object.freeze({ model: null, reservation: 0 });

/** The wire format of this request's usage: configured, or by path for `auto`. */
export function usageFormat(route: Route, path: string): LlmFormat | 'header' | null {
  const f = route.metering?.format;
  if (f === undefined) return null;
  if (f !== 'auto') return f;
  return /\/messages\/?$/.test(path) ? 'anthropic' : 'openai';
}

async function readMeteredBody(c: Context<AppEnv>, route: Route, format: LlmFormat | 'header' | null): Promise<MeteredRequest> {
  const metering = route.metering;
  if (!metering) return { model: null, reservation: 0 };
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD') return { model: null, reservation: metering.default_reservation };
  const read = await readBodyLimited(c.req.raw, metering.max_body_bytes);
  if (!read.ok) throw new GatewayError('payload_too_large', `The request body exceeds ${metering.max_body_bytes} bytes.`);
  const text = read.text;
  if (format === 'header') return { model: null, reservation: metering.default_reservation, body: text };
  if (text.trim() === '') return { model: null, reservation: metering.default_reservation, body: text };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_json');
  }
  let forwarded = text;
  // OpenAI streams report usage only when asked: ask on the client's behalf (configurable).
  if (format === 'openai' && metering.include_usage && isRecord(body) && body.stream === true) {
    const opts = isRecord(body.stream_options) ? body.stream_options : {};
    if (opts.include_usage !== true) {
      body.stream_options = { ...opts, include_usage: true };
      forwarded = JSON.stringify(body);
    }
  }
  return { model: modelOf(body), reservation: reservationFor(body, metering.default_reservation), body: forwarded };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Admits the request against every limit of the key on this route in one store call, or
 * throws the refusal (429, 402, 403 for a revoked key, 503 when a closed route's store is down).
 */
export async function enforceLimits(c: Context<AppEnv>, route: Route, key: KeyRecord): Promise<Admission> {
  const config = c.get('config');
  const services = c.get('services');
  const format = usageFormat(route, c.req.path);
  // Routes without metering read no body: no await, no extra microtask.
  const metered = route.metering ? await readMeteredBody(c, route, format) : UNMETERED;
  const { model, reservation } = metered;

  const policy = policyFor(route, key);
  if (!hasAnyLimit(policy) && !route.instant_revocation) return unlimited(metered);

  const now = Date.now();
  const price = priceFor(config.PRICES, config.DEFAULT_PRICE, model);
  const counters = countersForRequest(policy, model, reservation);
  const reservedMicros = reservationCostMicros(price, reservation);
  const budget = budgetSpec(policy.budget, reservedMicros, now);

  const guarded = await services.guard.run('admit', services.storeTimeoutMs, () => services.limits.admit({ keyId: key.id, counters, budget, now }));
  addTiming(c.get('timings'), 'store', guarded.ms, guarded.ok ? services.limits.kind : `${services.limits.kind} ${guarded.reason}`);

  let outcome: AdmitOutcome | undefined;
  if (guarded.ok) outcome = guarded.value;
  else {
    // Store down: apply the route's failure policy. Budgets fail closed by default.
    const closed = (budget && route.on_store_error.budget === 'closed') || (counters.length > 0 && route.on_store_error.requests === 'closed');
    if (closed) throw new GatewayError('store_unavailable', 'The limit store is unavailable; this route fails closed.', { headers: { 'retry-after': '1' } });
  }

  const llm = format === 'openai' || format === 'anthropic';
  if (outcome?.status === 'blocked') throw new GatewayError(outcome.reason);
  if (outcome?.status === 'rate_limited') {
    const r = outcome.refusedBy;
    throw new GatewayError('rate_limited', `Rate limit ${r.name} exceeded (${r.limit} ${r.kind} per ${r.windowMs / 1000}s).`, {
      headers: { ...rateLimitHeaders(limitView(outcome.counters, r), now, llm), 'retry-after': retryAfterSeconds(r.resetAt, now) ?? '1' },
      details: { limit: r.name, kind: r.kind, limit_value: r.limit, remaining: r.remaining, reset: new Date(r.resetAt).toISOString() },
    });
  }
  if (outcome?.status === 'budget_exhausted') {
    const b = outcome.budget;
    const retry = retryAfterSeconds(b.resetAt, now);
    throw new GatewayError('budget_exhausted', `The ${PERIOD_WORD[b.period]} budget of $${formatUsd(b.limitMicros)} is spent.`, {
      headers: { ...budgetHeaders(b), ...(retry ? { 'retry-after': retry } : {}) },
      details: { budget_usd: b.limitMicros / 1e6, spent_usd: b.spentMicros / 1e6, period: b.period },
    });
  }

  const admitted = outcome?.status === 'admitted' ? outcome : undefined;
  if (!admitted) return unlimited(metered);

  let meter: ((res: Response) => Response) | undefined;
  if (route.metering && format) {
    const settle = (usage: TokenUsage | null) => {
      // No usage reported: the reservation stands.
      if (!usage) return Promise.resolve();
      const actual = usage.input + usage.output;
      return settleTicket(c, admitted.ticket, actual - reservation, costMicros(price, usage.input, usage.output) - reservedMicros);
    };
    const metering = route.metering;
    meter = (res) => {
      if (format === 'header') {
        // A missing or malformed header is no usage reported: the reservation stands.
        const raw = res.headers.get(metering.header ?? '')?.trim() ?? '';
        const units = /^\d{1,15}$/.test(raw) ? Number(raw) : null;
        const usage = units === null ? null : { input: units, output: 0 };
        c.set('metered', { model, price, usage: Promise.resolve(usage) });
        c.executionCtx.waitUntil(settle(usage));
        return res;
      }
      if (!res.body) return res;
      const metered = meterResponse(res.body, { format, contentType: res.headers.get('content-type') });
      c.set('metered', { model, price, usage: metered.usage });
      c.executionCtx.waitUntil(metered.usage.then(settle));
      return new Response(metered.stream, res);
    };
  }

  return {
    body: metered.body,
    onResponse: (upstream) => {
      const res = meter ? meter(upstream) : upstream;
      const headers = { ...rateLimitHeaders(admitted.counters, now, llm), ...budgetHeaders(admitted.budget) };
      for (const name in headers) res.headers.set(name, headers[name] as string);
      return res;
    },
  };
}

// The merged policy of a key on a route, computed once per cached key record: records are
// immutable snapshots (a change brings a new object) and routes come from the parsed config,
// so entries die with the record when the isolate cache drops it.
const policies = new WeakMap<KeyRecord, WeakMap<Route, EffectivePolicy>>();

function policyFor(route: Route, key: KeyRecord): EffectivePolicy {
  let byRoute = policies.get(key);
  if (!byRoute) policies.set(key, (byRoute = new WeakMap()));
  let policy = byRoute.get(route);
  if (!policy) byRoute.set(route, (policy = effectivePolicy(route, key)));
  return policy;
}

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

async function settleTicket(c: Context<AppEnv>, ticket: Ticket, tokenDelta: number, costDeltaMicros: number): Promise<void> {
  if (tokenDelta === 0 && costDeltaMicros === 0) return;
  const services = c.get('services');
  await services.guard.run('settle', services.storeTimeoutMs * 8, () => services.limits.settle(ticket, { tokenDelta, costDeltaMicros, now: Date.now() }));
}
