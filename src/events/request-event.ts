// Builds the request event from what the proxy steps already recorded (timings, metering,
// limit and budget answers) and adds it to the isolate's open batch (emit.ts) once the
// response is ready. Everything but a metered request's usage is known then, so the event is
// built at once, without a promise or a waitUntil of its own: only the request that leads a
// batch hands its send to waitUntil. A metered request's event waits for its usage in waitUntil.

import type { Context } from 'hono';
import { matchRoute } from '../config/load';
import type { Route } from '../config/schema';
import type { AppEnv } from '../context';
import type { GatewayError } from '../errors';
import type { KeyRecord } from '../keys/record';
import { ulid } from '../lib/ids';
import { budgetPeriod, costMicros, effectivePolicy } from '../limits/policy';
import { splitRequestUrl } from '../proxy/upstream-url';
import type { TokenUsage } from '../usage/types';
import { addToBatch, enqueue } from './emit';
import type { QueueMessage, RequestEvent, UseEvent } from './messages';

/** What the limits step knows about a metered request, for the event (see middleware/limits.ts). */
export interface MeteredFacts {
  model: string | null;
  price: { input: number; output: number };
  /** Settles with the usage the upstream reported, or null (the reservation stands). */
  usage: Promise<TokenUsage | null>;
}

export interface EventVariables {
  /** When the request began (ms since epoch): the event's time and total latency. */
  startedAt: number;
  /** Set by the limits step on metered routes. */
  metered: MeteredFacts;
}

// Bounds that keep an event under ~3 KB (see emit.ts): client-supplied texts are cut.
const MAX_TEXT = 256;
const MAX_PATH = 1024;
const TIMING = /^([a-z]+)(?:;desc="([^"]*)")?;dur=([0-9.]+)$/;

/** A forwarded request: the upstream's status, outcome `ok`. */
export function emitRequestEvent(c: Context<AppEnv>, route: Route, key: KeyRecord, response: Response): void {
  const queue = c.env.EVENTS;
  if (!queue) return;
  try {
    const event = requestEvent(c, route, key, response.status, 'ok', response.headers, undefined);
    const metered = c.get('metered');
    if (metered) c.executionCtx.waitUntil(withUsage(event, metered).then((e) => enqueue(queue, e)));
    else {
      const leading = addToBatch(queue, event);
      if (leading) c.executionCtx.waitUntil(leading);
    }
  } catch (err) {
    lost(err); // the response stands whatever happens to its event
  }
}

/** A refusal after the key was identified (the key is on the context); others are not logged. */
export function emitRefusalEvent(c: Context<AppEnv>, err: GatewayError, response: Response): void {
  const queue = c.env.EVENTS;
  const key = c.get('key');
  if (!queue || !key) return;
  const config = c.get('config');
  if (!config) return;
  const { rawPath } = splitRequestUrl(c.req.url);
  // /_keygate is not a route (its paths are reserved), so key-holder refusals are not request events.
  const route = matchRoute(config, rawPath);
  if (!route || rawPath.startsWith('/_keygate')) return;
  try {
    const event = requestEvent(c, route, key, response.status, err.code, response.headers, err.details);
    const metered = c.get('metered');
    c.executionCtx.waitUntil(metered ? withUsage(event, metered).then((e) => enqueue(queue, e)) : enqueue(queue, event));
  } catch (error) {
    lost(error);
  }
}

function lost(err: unknown): void {
  console.error(JSON.stringify({ level: 'error', event: 'request_event_failed', message: err instanceof Error ? err.message : String(err) }));
}

/** A key used by the verify API, /_keygate or as an admin credential: keeps last_used_at. */
export function emitUse(c: Context<AppEnv>, keyId: string, via: UseEvent['via']): void {
  const queue = c.env.EVENTS;
  if (!queue) return;
  c.executionCtx.waitUntil(enqueue(queue, { kind: 'use', key_id: keyId, at: Date.now(), via }));
}

/** The event of a request that ended with `status` and `outcome`, but for a metered request's usage. */
function requestEvent(c: Context<AppEnv>, route: Route, key: KeyRecord, status: number, outcome: string, headers: Headers, details: unknown): RequestEvent {
  const event = baseEvent(c, route, key, status, outcome);
  // A refusal by the key's owner names the owner's window or budget: not the key's, so it
  // neither fires nor uses up the key's limit.exceeded / budget.* webhooks.
  const byOwner = isRecord(details) && details.holder === 'owner';
  if (!byOwner && outcome === 'rate_limited' && isRecord(details) && typeof details.limit === 'string' && typeof details.reset === 'string') {
    event.limit = { name: details.limit.slice(0, 100), reset: Date.parse(details.reset) };
  }
  const limit = byOwner ? null : headers.get('x-budget-limit-usd');
  if (limit !== null) {
    const period = effectivePolicy(route, key).budget?.period;
    const remaining = headers.get('x-budget-remaining-usd');
    if (period) {
      event.budget = {
        period,
        period_key: budgetPeriod(period, event.at).periodKey,
        limit_micros: Math.round(Number(limit) * 1e6),
        remaining_micros: remaining === null ? null : Math.round(Number(remaining) * 1e6),
      };
    }
  }
  return event;
}

/** The event with the model, and the tokens and cost the upstream reported once it has. */
async function withUsage(event: RequestEvent, metered: MeteredFacts): Promise<RequestEvent> {
  event.model = metered.model === null ? null : metered.model.slice(0, 200);
  const usage = await metered.usage;
  if (usage) {
    event.input_tokens = usage.input;
    event.output_tokens = usage.output;
    event.cost_micros = costMicros(metered.price, usage.input, usage.output);
  }
  return event;
}

function baseEvent(c: Context<AppEnv>, route: Route, key: KeyRecord, status: number, outcome: string): RequestEvent {
  const request = c.req.raw;
  const at = c.get('startedAt') ?? Date.now();
  const event: RequestEvent = {
    kind: 'request',
    id: `log_${ulid(at)}`,
    at,
    request_id: c.get('requestId'),
    key_id: key.id,
    owner: key.owner,
    route: route.path,
    method: request.method,
    path: splitRequestUrl(request.url).rawPath.slice(0, MAX_PATH),
    status,
    outcome,
    ip: text(request.headers.get('cf-connecting-ip')),
    user_agent: text(request.headers.get('user-agent')),
    referer: withoutQuery(request.headers.get('referer')),
    key_ms: null,
    store_ms: null,
    upstream_ms: null,
    total_ms: Math.max(0, Date.now() - at),
    model: null,
    input_tokens: null,
    output_tokens: null,
    cost_micros: null,
    store: null,
  };
  for (const entry of c.get('timings') ?? []) {
    const m = TIMING.exec(entry);
    if (!m) continue;
    const ms = Number(m[3]);
    if (m[1] === 'key') event.key_ms = ms;
    else if (m[1] === 'upstream') event.upstream_ms = ms;
    else if (m[1] === 'store') {
      event.store_ms = ms;
      event.store = m[2]?.split(' ', 1)[0] ?? null;
    }
  }
  return event;
}

function text(value: string | null): string | null {
  return value === null ? null : value.slice(0, MAX_TEXT);
}

/** A referer's query may carry a key (routes with key_query_param): keep origin and path only. */
function withoutQuery(value: string | null): string | null {
  if (value === null) return null;
  const end = value.search(/[?#]/);
  return text(end === -1 ? value : value.slice(0, end));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
