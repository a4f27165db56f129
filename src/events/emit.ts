// Sends queue messages without delaying the response: messages from all requests of an
// isolate are gathered for a few milliseconds and leave as one sendBatch, and every request
// that added one keeps itself alive (waitUntil) until that batch is sent.

import type { QueueMessage } from './messages';

/** Queues' per-call limits: 100 messages and 256 KB; keep a margin under the byte limit. */
const MAX_MESSAGES = 100;
const MAX_BYTES = 200_000;
const GATHER_MS = 20;

interface Pending {
  messages: MessageSendRequest<QueueMessage>[];
  bytes: number;
  sent: Promise<void>;
  flush: () => void;
}

// One open batch per queue binding; a WeakMap, so a binding that goes away takes its batch.
const open = new WeakMap<Queue<QueueMessage>, Pending>();

/**
 * Adds a message to the isolate's next batch; the returned promise settles once it is sent
 * (or the send failed and was logged). Hand it to waitUntil; never await it on a response path.
 */
export function enqueue(queue: Queue<QueueMessage> | undefined, message: QueueMessage): Promise<void> {
  if (!queue) return Promise.resolve();
  const size = JSON.stringify(message).length;
  let batch = open.get(queue);
  if (batch && batch.bytes + size > MAX_BYTES) {
    batch.flush();
    batch = undefined;
  }
  if (!batch) {
    batch = openBatch(queue);
    open.set(queue, batch);
  }
  batch.messages.push({ body: message, contentType: 'json' });
  batch.bytes += size;
  const sent = batch.sent;
  if (batch.messages.length >= MAX_MESSAGES) batch.flush();
  return sent;
}

function openBatch(queue: Queue<QueueMessage>): Pending {
  let flushed = false;
  let release!: () => void;
  const batch: Pending = {
    messages: [],
    bytes: 0,
    sent: new Promise<void>((resolve) => (release = resolve)),
    flush: () => {
      if (flushed) return;
      flushed = true;
      clearTimeout(timer);
      if (open.get(queue) === batch) open.delete(queue);
      void send(queue, batch.messages).then(release);
    },
  };
  const timer = setTimeout(batch.flush, GATHER_MS);
  return batch;
}

async function send(queue: Queue<QueueMessage>, messages: MessageSendRequest<QueueMessage>[]): Promise<void> {
  // One retry: a lost send loses request events (never admin events: those are re-derived
  // from the audit log), so say so loudly, with counts only.
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await queue.sendBatch(messages);
      return;
    } catch (err) {
      if (attempt === 2) {
        console.error(JSON.stringify({ level: 'error', event: 'queue_send_failed', messages: messages.length, message: err instanceof Error ? err.message : String(err) }));
      }
    }
  }
}
