// Sends queue messages off the response path, batched per isolate: the first request that
// has a message to send while no batch is open becomes the batch's leader. It waits a few
// milliseconds in its own waitUntil, then sends everything gathered meanwhile (its own
// messages and those of other requests) in one sendBatch, with its own request's I/O. Other
// requests only add plain data to the open batch: no request awaits a promise or an I/O
// object of another request, which workerd does not allow.
//
// Request and use events travel packed, many to one queue message (an EventPack as JSON
// text): the queue's work (and its bill, per operation) is per message, and the consumer
// writes a whole batch to D1 at once anyway. Webhook jobs stay one message each: each is
// retried, delayed and acknowledged on its own.

import { PACK_HEAD, PACK_TAIL, type QueueItem, type QueueMessage } from './messages';

/** Queues' per-call limits are 100 messages and 256 KB, 128 KB per message. */
const MAX_BATCH_BYTES = 200_000;
const MAX_MESSAGE_BYTES = 100_000;
const MAX_JOBS = 64;
/** What a job message counts against the batch's bytes (a job is a few ids, < 200 bytes). */
const JOB_BYTES = 256;
// Each sendBatch costs far more than a message in it: gather for a tenth of a second.
const GATHER_MS = 100;
// A batch still open this long after it opened has a leader that will not send it (its
// request context was torn down before its timer fired): no message joins it any more.
const STALE_MS = 10 * GATHER_MS;

interface OpenBatch {
  /** Each event's JSON text and its UTF-8 length. */
  events: string[];
  sizes: number[];
  jobs: MessageSendRequest<QueueMessage>[];
  bytes: number;
  /** When its leader opened it (ms). */
  opened: number;
}

// The open batch per queue binding; a WeakMap, so a binding that goes away takes its batch.
const open = new WeakMap<Queue<QueueMessage>, OpenBatch>();

/**
 * Adds a message to the isolate's open batch. Returns the send this request leads (hand it
 * to waitUntil), or a resolved promise when another request's batch will carry the message.
 * Never await it on a response path.
 */
export function enqueue(queue: Queue<QueueMessage> | undefined, message: QueueItem): Promise<void> {
  return (queue && addToBatch(queue, message)) ?? SENT_BY_ANOTHER;
}

const SENT_BY_ANOTHER: Promise<void> = Promise.resolve();

/**
 * enqueue() without a promise for the common case: null when another request's batch will
 * carry the message, else the send this request now leads, for its waitUntil.
 */
export function addToBatch(queue: Queue<QueueMessage>, message: QueueItem): Promise<void> | null {
  const isEvent = message.kind === 'request' || message.kind === 'use';
  const text = isEvent ? JSON.stringify(message) : '';
  const size = isEvent ? utf8Length(text) : JOB_BYTES;
  const batch = open.get(queue);
  const now = Date.now();
  if (batch && batch.bytes + size <= MAX_BATCH_BYTES && (isEvent || batch.jobs.length < MAX_JOBS) && now - batch.opened < STALE_MS) {
    add(batch, message, isEvent, text, size);
    return null;
  }
  // A new batch replaces a full or stale one; a stale one's leader, if it does send after all,
  // sends what it holds and leaves this one open.
  const mine: OpenBatch = { events: [], sizes: [], jobs: [], bytes: 0, opened: now };
  add(mine, message, isEvent, text, size);
  open.set(queue, mine);
  return new Promise<void>((resolve) => setTimeout(resolve, GATHER_MS)).then(() => {
    if (open.get(queue) === mine) open.delete(queue);
    return send(queue, messagesOf(mine), mine.events.length);
  });
}

function add(batch: OpenBatch, message: QueueItem, isEvent: boolean, text: string, size: number): void {
  if (isEvent) (batch.events.push(text), batch.sizes.push(size));
  else batch.jobs.push({ body: message, contentType: 'json' });
  batch.bytes += size;
}

/** The batch's messages: its jobs, then its events packed into messages of at most MAX_MESSAGE_BYTES. */
function messagesOf(batch: OpenBatch): MessageSendRequest<QueueMessage>[] {
  const out = batch.jobs;
  let from = 0;
  let bytes = PACK_HEAD.length + PACK_TAIL.length;
  for (let i = 0; i < batch.events.length; i++) {
    const size = (batch.sizes[i] as number) + 1;
    if (i > from && bytes + size > MAX_MESSAGE_BYTES) {
      out.push(pack(batch.events.slice(from, i)));
      from = i;
      bytes = PACK_HEAD.length + PACK_TAIL.length;
    }
    bytes += size;
  }
  if (from < batch.events.length) out.push(pack(batch.events.slice(from)));
  return out;
}

function pack(events: string[]): MessageSendRequest<QueueMessage> {
  return { body: `${PACK_HEAD}${events.join(',')}${PACK_TAIL}`, contentType: 'text' };
}

const NON_ASCII = /[^\x00-\x7f]/;
const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return NON_ASCII.test(text) ? encoder.encode(text).length : text.length;
}

async function send(queue: Queue<QueueMessage>, messages: MessageSendRequest<QueueMessage>[], events: number): Promise<void> {
  // One retry: a lost send loses request events (never a webhook: key events are re-read
  // from the audit log and deliveries from D1 by the cron), so say so, with counts only.
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await queue.sendBatch(messages);
      return;
    } catch (err) {
      if (attempt === 2) {
        console.error(JSON.stringify({ level: 'error', event: 'queue_send_failed', messages: messages.length, events, message: err instanceof Error ? err.message : String(err) }));
      }
    }
  }
}
