// A metered request before it is forwarded: which format meters it, the body to forward
// (rewritten so the upstream reports usage), the model, and its reservation plan. Pure:
// takes the route's metering settings, the method, the sub-path and the body text already
// read, and returns a tagged result that the gateway maps to HTTP.
import type { Metering } from '../config/schema';
import type { ReservationPlan } from './charge';
import { costOf, genericCost, modelOf } from './estimate';
import { clampTokens, isRecord } from './fields';
import { resolveFormat } from './registry';
import type { RequestCost, UsageFormat } from './types';

export interface MeteredRequest {
  /** The format that reads this response's usage; null: none does (charged in full). */
  format: UsageFormat | null;
  model: string | null;
  plan: ReservationPlan;
  /** The body as read, or rewritten; forwarded instead of the stream. Undefined: no body. */
  body: string | undefined;
}

export type MeteredEndpoint =
  | { ok: true; format: UsageFormat | null; reserveAll: boolean }
  | { ok: false; code: 'endpoint_not_metered' };

/** Step one, before any body is read: is this endpoint metered, and by which format. */
export function meteredEndpoint(metering: Metering, method: string, subPath: string | null): MeteredEndpoint {
  const resolved = resolveFormat(metering, method, subPath);
  if (resolved.listed) return { ok: true, format: resolved.format, reserveAll: false };
  if (metering.unknown === 'refuse') return { ok: false, code: 'endpoint_not_metered' };
  return { ok: true, format: null, reserveAll: true };
}

export type Prepared = { ok: true; request: MeteredRequest } | { ok: false; code: 'invalid_json' };

const FREE_PLAN: ReservationPlan = Object.freeze({ input: 0, admitOutput: 0, fullOutput: 0 });

/** Step two: the body text (undefined for GET/HEAD) turned into what admission needs. */
export function prepareRequest(metering: Metering, endpoint: { format: UsageFormat | null; reserveAll: boolean }, text: string | undefined): Prepared {
  const { format } = endpoint;
  if (format?.headerUsage) {
    // Header-metered upstreams are not read: the configured reservation is all there is.
    const r = metering.default_reservation;
    return { ok: true, request: { format, model: null, plan: { input: 0, admitOutput: r, fullOutput: r }, body: text } };
  }
  let parsed: unknown = null;
  if (text !== undefined && text.trim() !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, code: 'invalid_json' };
    }
  }
  const model = modelOf(parsed);
  if (format?.free) return { ok: true, request: { format, model, plan: FREE_PLAN, body: text } };

  let body = text;
  if (isRecord(parsed) && metering.include_usage && format?.prepare?.(parsed)) body = JSON.stringify(parsed);

  const cost: RequestCost = isRecord(parsed) ? (format?.cost ?? genericCost)(parsed) : costOf(0, null, 1);
  // What the upstream may generate: the request's own maximum, else the route's ceiling.
  const fullOutput = cost.maxOutput ?? clampTokens(metering.max_reservation * cost.outputs);
  // A response nobody reads usage from is charged in full, so it is admitted in full too.
  const unread = endpoint.reserveAll || format === null || (!format.jsonUsage && !format.sse);
  const admitOutput = unread ? fullOutput : (cost.maxOutput ?? metering.default_reservation);
  return { ok: true, request: { format, model, plan: { input: cost.input, admitOutput, fullOutput }, body } };
}
