// Step 4: limits. Reads the body on metered routes (endpoint, model, token reservation) and
// on routes with model limits (model), then asks the limit store, in one round trip, to check
// the revocation marker and consume every request window, the token reservation and the
// spend budget. After the response, settles the reservation to the tokens charged
// (src/usage/charge.ts) in ctx.waitUntil.

import type { Context } from 'hono';
import type { Metering, Route } from '../config/schema';
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
import { checkAdmitInput } from '../limits/admit-input';
import { checkFreshSnapshot } from '../limits/revocation';
import type { AdmitOutcome, CounterState, Ticket } from '../limits/store';
import type { EffectivePolicy } from '../limits/policy';
import { counterIdOf, type KeyRecord } from '../keys/record';
import { readBodyLimited } from '../proxy/body';
import { splitRequestUrl } from '../proxy/upstream-url';
import { admittedTokens, chargeFor, type ReservationPlan } from '../usage/charge';
import { modelOf } from '../usage/estimate';
import { parseJson } from '../usage/fields';
import { meterResponse } from '../usage/meter';
import { subPathOf } from '../usage/registry';
import { meteredEndpoint, prepareRequest, type MeteredRequest } from '../usage/request';
import type { UsageReading } from '../usage/types';
import { addTiming } from './request-context';

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
function unlimited(metered: MeteredRequest | null): Admission {
  return metered?.body === undefined ? PASS : { body: metered.body, onResponse: undefined };
}

const NO_PLAN: ReservationPlan = Object.freeze({ input: 0, admitOutput: 0, fullOutput: 0 });

/**
 * Metered routes: refuses endpoints outside `metering.paths` (unless `unknown = "reserve"`),
 * reads the body (bounded), and plans the reservation (src/usage/request.ts).
 */
async function readMeteredBody(c: Context<AppEnv>, route: Route, metering: Metering): Promise<MeteredRequest> {
  const method = c.req.method;
  const endpoint = meteredEndpoint(metering, method, subPathOf(route.path, splitRequestUrl(c.req.url).rawPath));
  if (!endpoint.ok) throw new GatewayError(endpoint.code);
  let text: string | undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    const read = await readBodyLimited(c.req.raw, metering.max_body_bytes);
    if (!read.ok) throw new GatewayError('payload_too_large', `The request body exceeds ${metering.max_body_bytes} bytes.`);
    text = read.text;
  }
  const prepared = prepareRequest(metering, endpoint, text);
  if (!prepared.ok) throw new GatewayError(prepared.code);
  return prepared.request;
}

/**
 * Routes without metering whose key or route limits a model: the model named in a JSON body
 * binds its request counts (rpm/rpd). The body is read from a clone, so the original still
 * streams upstream untouched; a body past MODEL_BODY_BYTES is refused, or padding it would
 * escape the model's limits. A body that is not a JSON object names no model.
 */
async function readModel(c: Context<AppEnv>): Promise<string | null> {
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD' || !c.req.raw.body) return null;
  // An encoded body would name its model to the upstream but not to us.
  const encoding = c.req.raw.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') {
    throw new GatewayError('unsupported_media_type', 'Request bodies on this route must not be content-encoded: model limits read the model from the body.');
  }
  const read = await readBodyLimited(c.req.raw.clone(), MODEL_BODY_BYTES);
  if (!read.ok) throw new GatewayError('payload_too_large', `The request body exceeds ${MODEL_BODY_BYTES} bytes, the most read for model limits.`);
  return modelOf(parseJson(read.text));
}

/** The most a route without metering reads to find the model of a request with model limits. */
const MODEL_BODY_BYTES = 1024 * 1024;

/** Whether any model has limits for this key on this route. */
function limitsModels(policy: EffectivePolicy): boolean {
  return policy.modelLimits.size > 0;
}

/**
 * Admits the request against every limit of the key on this route in one store call, or
 * throws the refusal (429, 402, 403 for a revoked key, 503 when a closed route's store is down).
 */
export async function enforceLimits(c: Context<AppEnv>, route: Route, key: KeyRecord): Promise<Admission> {
  const config = c.get('config');
  const services = c.get('services');
  const policy = policyFor(route, key);
  // Routes without metering or model limits read no body: no await, no extra microtask.
  let metered: MeteredRequest | null = null;
  let model: string | null = null;
  if (route.metering) ({ model } = metered = await readMeteredBody(c, route, route.metering));
  else if (limitsModels(policy)) model = await readModel(c);
  const plan = metered?.plan ?? NO_PLAN;
  const reservation = admittedTokens(plan);

  // A signed request's token id is checked in the admission: it always asks the store.
  const replay = c.get('replay');
  if (!hasAnyLimit(policy) && !route.instant_revocation && replay === undefined) return unlimited(metered);

  const now = Date.now();
  const price = priceFor(config.prices, config.DEFAULT_PRICE, model);
  const counters = countersForRequest(policy, model, reservation);
  const reservedMicros = reservationCostMicros(price, reservation);
  const budget = budgetSpec(policy.budget, reservedMicros, now);

  // Amounts are bounded and checked before the store: a bad number is this request's problem,
  // never a store failure that would count towards the breaker.
  const checked = checkAdmitInput({ keyId: key.id, counterId: counterIdOf(key), counters, budget, now, replay });
  if (!checked.ok) throw new GatewayError('internal_error', `The admission could not be computed (${checked.problem}).`);
  const guarded = await services.guard.run('admit', services.storeTimeoutMs, () => services.limits.admit(checked.input));
  addTiming(c.get('timings'), 'store', guarded.ms, guarded.ok ? services.limits.kind : `${services.limits.kind} ${guarded.reason}`);

  let outcome: AdmitOutcome | undefined;
  if (guarded.ok) outcome = guarded.value;
  else if (guarded.reason === 'rejected') throw new GatewayError('internal_error');
  else if (replay !== undefined) {
    // Without the store nothing can tell a replayed token from a fresh one: refuse.
    throw new GatewayError('store_unavailable', 'The limit store is unavailable; signed requests fail closed.', { headers: { 'retry-after': '1' } });
  } else {
    // Store down: apply the route's failure policy. Budgets fail closed by default; `requests`
    // covers the request windows and the revocation marker, so it applies on every route.
    const closed = (budget && route.on_store_error.budget === 'closed') || route.on_store_error.requests === 'closed';
    if (closed) throw new GatewayError('store_unavailable', 'The limit store is unavailable; this route fails closed.', { headers: { 'retry-after': '1' } });
    // Failing open admits without counting, but never a key revoked since the isolate cached it.
    const started = performance.now();
    const fresh = await checkFreshSnapshot(services.keys, key, now);
    addTiming(c.get('timings'), 'revocation', performance.now() - started, 'kv');
    if (!fresh.ok) throw new GatewayError(fresh.reason, fresh.reason === 'store_unavailable' ? 'The limit store and the key store are unavailable.' : undefined);
  }

  const format = metered?.format ?? null;
  const llm = metered !== null && !format?.headerUsage;
  if (outcome?.status === 'blocked') throw new GatewayError(outcome.reason);
  if (outcome?.status === 'replayed') throw new GatewayError('token_replayed');
  if (outcome?.status === 'rate_limited') {
    const r = outcome.refusedBy;
    throw new GatewayError('rate_limited', `Rate limit ${r.name} exceeded (${r.limit} ${r.kind} per ${r.windowMs / 1000}s).`, {
      headers: { ...rateLimitHeaders(limitView(outcome.counters, r), now, llm, outcome.budget), 'retry-after': retryAfterSeconds(r.resetAt, now) ?? '1' },
      details: { limit: r.name, kind: r.kind, limit_value: r.limit, remaining: r.remaining, reset: new Date(r.resetAt).toISOString() },
    });
  }
  if (outcome?.status === 'budget_exhausted') {
    const b = outcome.budget;
    const retry = retryAfterSeconds(b.resetAt, now);
    throw new GatewayError('budget_exhausted', `The ${PERIOD_WORD[b.period]} budget of $${formatUsd(b.limitMicros)} is spent.`, {
      headers: { ...rateLimitHeaders(outcome.counters, now, llm, b), ...budgetHeaders(b), ...(retry ? { 'retry-after': retry } : {}) },
      details: { budget_usd: b.limitMicros / 1e6, spent_usd: b.spentMicros / 1e6, period: b.period },
    });
  }

  const admitted = outcome?.status === 'admitted' ? outcome : undefined;
  if (!admitted) return unlimited(metered);

  let meter: ((res: Response) => Response) | undefined;
  if (metered && !format?.free) {
    const metering = route.metering!;
    const settle = (reading: UsageReading, status: number): Promise<void> => {
      // An upstream refusal without usage generated nothing to read: the reservation stands.
      if (status >= 400 && !reading.complete) return Promise.resolve();
      const charged = chargeFor(plan, reading);
      return settleTicket(c, admitted.ticket, charged.input + charged.output - reservation, costMicros(price, charged.input, charged.output) - reservedMicros);
    };
    meter = (res) => {
      if (format?.headerUsage) {
        const usage = format.headerUsage(res.headers, metering.header ?? '');
        c.executionCtx.waitUntil(settle({ usage, complete: usage !== null, streamed: 0 }, res.status));
        return res;
      }
      if (!res.body || !format) {
        c.executionCtx.waitUntil(settle(NOTHING_READ, res.status));
        return res;
      }
      const observed = meterResponse(res.body, { format, contentType: res.headers.get('content-type') });
      c.executionCtx.waitUntil(observed.reading.then((reading) => settle(reading, res.status)));
      return new Response(observed.stream, res);
    };
  }

  return {
    body: metered?.body,
    onResponse: (upstream) => {
      const res = meter ? meter(upstream) : upstream;
      const headers = { ...rateLimitHeaders(admitted.counters, now, llm, admitted.budget), ...budgetHeaders(admitted.budget) };
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

const NOTHING_READ: UsageReading = Object.freeze({ usage: null, complete: false, streamed: 0 });

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
