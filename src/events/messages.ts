// What travels on the EVENTS queue. Every message is plain JSON and carries no key material,
// no bodies and no credential headers: key ids, owners, paths without query strings, codes.

/** One proxied request whose key was identified, admitted or refused. */
export interface RequestEvent {
  kind: 'request';
  /** log_<ULID of `at`>: the request_log primary key, so a redelivered event is written once. */
  id: string;
  at: number;
  request_id: string;
  key_id: string;
  owner: string | null;
  route: string | null;
  method: string;
  path: string;
  status: number;
  /** `ok` when forwarded (whatever the upstream answered), else the refusal's error code. */
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  referer: string | null;
  key_ms: number | null;
  store_ms: number | null;
  upstream_ms: number | null;
  total_ms: number | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_micros: number | null;
  store: string | null;
  /** The refusing window of a 429 (for limit.exceeded): its name and when it resets. */
  limit?: { name: string; reset: number };
  /** Budget state after admission (for budget.threshold / budget.exhausted). */
  budget?: { period: 'day' | 'month' | 'total'; period_key: string; limit_micros: number; remaining_micros: number | null };
}

/** A key used outside the proxy (verify API, /_keygate, admin keys): last_used_at only. */
export interface UseEvent {
  kind: 'use';
  key_id: string;
  at: number;
  via: 'verify' | 'holder' | 'admin';
}

/** Deliver one webhook message to one endpoint (first attempt or a retry). */
export interface DeliveryJob {
  kind: 'delivery';
  delivery_id: string;
  /** The attempt this job makes (1-based): a job for an attempt already made is dropped. */
  attempt: number;
}

/** Turn new audit entries into webhook messages (sent after admin changes). */
export interface DispatchJob {
  kind: 'dispatch';
}

/** What the request log is written from. */
export type LoggedEvent = RequestEvent | UseEvent;

/**
 * Many events in one queue message (see emit.ts), sent as JSON text (content type `text`):
 * `{"kind":"events","events":[...]}`. The consumer also takes single events, as producers
 * before packing sent them.
 */
export interface EventPack {
  kind: 'events';
  events: LoggedEvent[];
}

export const PACK_HEAD = '{"kind":"events","events":[';
export const PACK_TAIL = ']}';

/** An EventPack's events, from its text; null for any other text. */
export function unpack(text: string): LoggedEvent[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { kind, events } = parsed as Partial<Record<keyof EventPack, unknown>>;
  if (kind !== 'events' || !Array.isArray(events)) return null;
  return events.filter((e): e is LoggedEvent => typeof e === 'object' && e !== null && (e.kind === 'request' || e.kind === 'use'));
}

/** One event or job: a message of its own (JSON), or an event inside an EventPack. */
export type QueueItem = LoggedEvent | DeliveryJob | DispatchJob;

/** A message body: one event or job, or an EventPack's text. */
export type QueueMessage = QueueItem | string;

const MINUTE_MS = 60_000;

/** last_used_at is kept to the minute: one write per key and minute at most. */
export function toMinute(at: number): number {
  return at - (at % MINUTE_MS);
}
