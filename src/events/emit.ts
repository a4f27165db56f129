// Sends one queue message off the response path: callers hand the returned promise to
// waitUntil and never await it on a response path. Each request sends its own message:
// gathering messages of several requests into one batch would resolve one request's
// promises from another's context, which workerd does not allow for I/O.

import type { QueueMessage } from './messages';

export async function enqueue(queue: Queue<QueueMessage> | undefined, message: QueueMessage): Promise<void> {
  if (!queue) return;
  // One retry: a lost send loses a request event (never a webhook: key events are re-read
  // from the audit log and deliveries from D1 by the cron), so say so, with no content.
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await queue.send(message, { contentType: 'json' });
      return;
    } catch (err) {
      if (attempt === 2) {
        console.error(JSON.stringify({ level: 'error', event: 'queue_send_failed', kind: message.kind, message: err instanceof Error ? err.message : String(err) }));
      }
    }
  }
}
