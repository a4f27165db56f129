// Step 4: limits. Reads the body on metered routes (endpoint, model, token reservation) and
// on routes with model limits (model), then asks the limit store, in one round trip, to check
// the revocation marker and consume every request window, the token reservation and the
// spend budget. After the response, settles the reservation to the tokens charged
// (src/usage/charge.ts) in ctx.waitUntil.

import type { Context } from 'hono';
import type { Metering, Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import type { KeyRecord } from '../keys/record';
import {
  admittedHeaders,
  chargedUsage,
  ENCODED_MODEL_BODY,
  freshCheckRefusal,
  meteredBodyTooLarge,
  onlyTheMarker,
  modelNotAllowed,
  MODEL_BODY_BYTES,
  MODEL_BODY_TOO_LARGE,
  planAdmission,
  refusalOf,
  REJECTED_BY_STORE,
  settlementOf,
  whenStoreDown,
  type AdmissionPlan,
  type OwnerLimits,
  type Refusal,
} from '../limits/admission';
import { effectivePolicy, ownerPolicy, type EffectivePolicy } from '../limits/policy';
import type { OwnerStore } from '../owners/owner-store';
import { ownerHasLimits, type OwnerRecord } from '../owners/record';
import { markerReadRecently, rememberClearMarker } from '../limits/marker-cache';
import { modelAllowed } from '../limits/model-allowlist';
import { checkFreshSnapshot } from '../limits/revocation';
import type { AdmitOutcome, Ticket } from '../limits/store';
import { readBodyLimited } from '../proxy/body';
import { splitRequestUrl } from '../proxy/upstream-url';
import { modelOf } from '../usage/estimate';
import { parseJson } from '../usage/fields';
import { meterResponse } from '../usage/meter';
import { subPathOf } from '../usage/registry';
import { meteredEndpoint, prepareRequest, type MeteredRequest } from '../usage/request';
import type { UsageReading } from '../usage/types';
import { addTiming } from '../http/request-context';
import { releaseOnce, releasingBody, undoLateAdmission } from './leases';

/** The one mapping from a limit refusal to the error the client sees. */
function refused(r: Refusal): GatewayError {
  return new GatewayError(r.code, r.message, { headers: r.headers, details: r.details });
}

/** What step 4 hands to forwarding: a body already read, and what to do with the response. */
export interface Admission {
  /** A body already read (metered routes); otherwise the request body streams through. */
  body: string | undefined;
  /** Token metering and limit headers on the upstream response; identity when unset. */
  onResponse: ((response: Response) => Response) | undefined;
  /** Ends the request's lease (concurrency caps) when no response will carry it; idempotent. */
  release?: () => void;
}

/** Nothing read, nothing to add: the path of routes without limits or metering. */
const PASS: Admission = Object.freeze({ body: undefined, onResponse: undefined });

/** Forward the body read (if any) and leave the response alone. */
function unlimited(metered: MeteredRequest | null): Admission {
  return metered?.body === undefined ? PASS : { body: metered.body, onResponse: undefined };
}

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
    if (!read.ok) throw refused(meteredBodyTooLarge(metering.max_body_bytes));
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
  const encoding = c.req.raw.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') throw refused(ENCODED_MODEL_BODY);
  const read = await readBodyLimited(c.req.raw.clone(), MODEL_BODY_BYTES);
  if (!read.ok) throw refused(MODEL_BODY_TOO_LARGE);
  return modelOf(parseJson(read.text));
}

/** Whether the policy needs the request's model: model limits or a model allowlist. */
function limitsModels(policy: EffectivePolicy): boolean {
  return policy.modelLimits.size > 0 || policy.models !== null;
}

/**
 * Admits the request against every limit of the key on this route in one store call, or
 * throws the refusal (429, 402, 403 for a revoked key, 503 when a closed route's store is down).
 */
export async function enforceLimits(c: Context<AppEnv>, route: Route, key: KeyRecord): Promise<Admission> {
  const services = c.get('services');
  const policy = policyFor(route, key);
  // Routes without metering or model limits read no body: no await, no extra microtask.
  let metered: MeteredRequest | null = null;
  let model: string | null = null;
  if (route.metering) ({ model } = metered = await readMeteredBody(c, route, route.metering));
  else if (limitsModels(policy)) model = await readModel(c);

  // Keys without an owner skip this; a cached owner costs no await.
  let owner = key.owner === null ? null : ownerPolicyOf(services.owners, key.owner);
  if (owner instanceof Promise) owner = await owner;
  if (owner !== null && model === null && !route.metering && !limitsModels(policy) && limitsModels(owner.policy)) model = await readModel(c);

  // Allowlists before any store call: a refused model costs no round trip.
  const isMetered = route.metering !== undefined;
  if (!modelAllowed(policy.models, model, isMetered)) throw refused(modelNotAllowed(model, 'key'));
  if (owner !== null && !modelAllowed(owner.policy.models, model, isMetered)) throw refused(modelNotAllowed(model, 'owner'));

  const ownerLimits = owner?.limited ? owner : null;
  const replay = c.get('replay');
  // Only the marker to read, and it was read clear recently in this isolate: no store call,
  // decided before anything is planned.
  const markerCached = route.revocation_max_staleness_ms > 0 && onlyTheMarker(route, key, policy, ownerLimits, replay);
  if (markerCached && markerReadRecently(key.id)) return unlimited(metered);
  const now = Date.now();
  // A signed request's token id is checked (and recorded) in the same store call.
  const admission = planAdmission(route, key, policy, c.get('config'), model, metered?.plan, now, ownerLimits, replay);
  if (admission === null) return unlimited(metered);
  if (!admission.ok) throw refused(admission);
  let pending: Promise<AdmitOutcome> | undefined;
  const keepAlive = (call: Promise<unknown>) => c.executionCtx.waitUntil(call);
  const guarded = await services.guard.run('admit', services.timeouts.admit, () => (pending = services.limits.admit(admission.input, keepAlive)));
  addTiming(c.get('timings'), 'store', guarded.ms, guarded.ok ? services.limits.kind : `${services.limits.kind} ${guarded.reason}`);

  let outcome: AdmitOutcome | undefined;
  if (guarded.ok) outcome = guarded.value;
  else if (guarded.reason === 'rejected') throw refused(REJECTED_BY_STORE);
  else {
    const closed = whenStoreDown(route.on_store_error, admission.input);
    // A timed-out call may still commit: undo what it took from a request this gateway refuses
    // (everything) or admits uncounted (its lease, which no response would release).
    if (guarded.reason === 'timeout' && pending) c.executionCtx.waitUntil(undoLateAdmission(c, pending, admission, closed !== null));
    if (closed) throw refused(closed);
    // Failing open admits without counting, but never a key revoked since the isolate cached it.
    const started = performance.now();
    const fresh = await checkFreshSnapshot(services.keys, key, now);
    addTiming(c.get('timings'), 'revocation', performance.now() - started, 'kv');
    if (!fresh.ok) throw refused(freshCheckRefusal(fresh));
  }

  const format = metered?.format ?? null;
  const llm = metered !== null && format?.limitHeaders !== 'standard';
  if (outcome === undefined) return unlimited(metered);
  if (outcome.status !== 'admitted') throw refused(refusalOf(outcome, now, llm));
  const admitted = outcome;
  if (markerCached) rememberClearMarker(key.id, route.revocation_max_staleness_ms);

  let meter: ((res: Response) => Response) | undefined;
  if (metered && !format?.free) {
    const metering = route.metering!;
    const settle = (reading: Promise<UsageReading>, status: number): void => {
      // The request event reports what was charged, once the response has been read.
      c.set('metered', { model, price: admission.price, usage: reading.then((r) => chargedUsage(admission, r, status)) });
      c.executionCtx.waitUntil(reading.then((r) => settleTicket(c, admitted.ticket, admission, r, status)));
    };
    meter = (res) => {
      if (format?.headerUsage) {
        const usage = format.headerUsage(res.headers, metering.header ?? '');
        settle(Promise.resolve({ usage, complete: usage !== null, streamed: 0 }), res.status);
        return res;
      }
      if (!res.body || !format) {
        settle(Promise.resolve(NOTHING_READ), res.status);
        return res;
      }
      const observed = meterResponse(res.body, { format, contentType: res.headers.get('content-type') });
      settle(observed.reading, res.status);
      return new Response(observed.stream, res);
    };
  }

  const release = admitted.ticket.lease ? releaseOnce(c, admitted.ticket) : undefined;
  return {
    body: metered?.body,
    onResponse: (upstream) => {
      let res = meter ? meter(upstream) : upstream;
      const headers = admittedHeaders(admitted, now, llm);
      for (const name in headers) res.headers.set(name, headers[name] as string);
      if (release) {
        // The lease ends with the response body: when it is read to the end, fails, or the client leaves.
        if (res.body === null) release();
        else res = new Response(releasingBody(res.body, release), res);
      }
      return res;
    },
    release,
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

/** An owner's policy on the proxy path; `limited`: it has windows or a budget (its keys count in its shard). */
interface OwnerView extends OwnerLimits {
  limited: boolean;
}

// An owner's policy, computed once per cached owner record (records are immutable snapshots).
const ownerViews = new WeakMap<OwnerRecord, OwnerView>();

/** The key's owner's policy, or null when it has none; no await on a cache hit. */
function ownerPolicyOf(owners: OwnerStore, name: string): OwnerView | null | Promise<OwnerView | null> {
  const cached = owners.cached(name);
  if (cached !== undefined) return viewOf(cached);
  return owners.lookup(name).then(viewOf);
}

function viewOf(record: OwnerRecord | null): OwnerView | null {
  if (record === null) return null;
  let view = ownerViews.get(record);
  if (!view) {
    view = { id: record.owner, policy: ownerPolicy(record.policy), limited: ownerHasLimits(record.policy), maxConcurrent: record.policy.max_concurrent };
    ownerViews.set(record, view);
  }
  return view;
}

const NOTHING_READ: UsageReading = Object.freeze({ usage: null, complete: false, streamed: 0 });

async function settleTicket(c: Context<AppEnv>, ticket: Ticket, admission: AdmissionPlan, reading: UsageReading, status: number): Promise<void> {
  const settlement = settlementOf(admission, reading, status, Date.now());
  if (settlement === null) return;
  const services = c.get('services');
  await services.guard.run('settle', services.timeouts.settle, () => services.limits.settle(ticket, settlement));
}
