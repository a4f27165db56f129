// Sends queue messages off the response path, batched per isolate: the first request that
// has a message to send while no batch is open becomes the batch's leader. It waits a few
// milliseconds in its own waitUntil, then sends everything gathered meanwhile (its own
// messages and those of other requests) in one sendBatch, with its own request's I/O. Other
// requests only add plain JSON to the open batch: no request awaits a promise or an I/O
// object of another request, which workerd does not allow.

import type { QueueMessage } from './messages';

/** Queues' per-call limits are 100 messages and 256 KB; an event is at most ~3 KB. */
const MAX_MESSAGES = 64;
// Each sendBatch costs far more than a message in it: gather for a tenth of a second.
const GATHER_MS = 100;

// The open batch per queue binding; a WeakMap, so a binding that goes away takes its batch.
const open = new WeakMap<Queue<QueueMessage>, MessageSendRequest<QueueMessage>[]>();

/**
 * Adds a message to the isolate's open batch. Returns the send this request leads (hand it
 * to waitUntil), or a resolved promise when another request's batch will carry the message.
 * Never await it on a response path.
 */
export function enqueue(queue: Queue<QueueMessage> | undefined, message: QueueMessage): Promise<void> {
  if (!queue) return Promise.resolve();
  const batch = open.get(queue);
  if (batch && batch.length < MAX_MESSAGES) {
    batch.push({ body: message, contentType: 'json' });
    return Promise.resolve();
  }
  const mine: MessageSendRequest<QueueMessage>[] = [{ body: message, contentType: 'json' }];
  open.set(queue, mine);
  return new Promise<void>((resolve) => setTimeout(resolve, GATHER_MS)).then(() => {
    if (open.get(queue) === mine) open.delete(queue);
    return send(queue, mine);
  });
}

async function send(queue: Queue<QueueMessage>, messages: MessageSendRequest<QueueMessage>[]): Promise<void> {
  // One retry: a lost send loses request events (never a webhook: key events are re-read
  // from the audit log and deliveries from D1 by the cron), so say so, with counts only.
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
