// Test helpers for the EVENTS queue: a producer that keeps what was sent, and a way to hand
// those messages to keygate's own queue() handler, as the Queues runtime would.

import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import worker from '../../src/index';
import type { Env } from '../../src/env';
import type { QueueMessage } from '../../src/events/messages';

export interface Captured {
  queue: Queue<QueueMessage>;
  sent: { body: QueueMessage; delaySeconds?: number }[];
  /** How many send/sendBatch calls reached the queue. */
  calls: () => number;
  /** Takes (and forgets) everything sent so far. */
  drain(): QueueMessage[];
}

export function capturingQueue(): Captured {
  const sent: Captured['sent'] = [];
  let calls = 0;
  const queue = {
    async send(body: QueueMessage, opts?: { delaySeconds?: number }) {
      calls++;
      sent.push({ body: structuredClone(body), delaySeconds: opts?.delaySeconds });
    },
    async sendBatch(messages: Iterable<MessageSendRequest<QueueMessage>>) {
      calls++;
      for (const m of messages) sent.push({ body: structuredClone(m.body), delaySeconds: m.delaySeconds });
    },
  } as unknown as Queue<QueueMessage>;
  return { queue, sent, calls: () => calls, drain: () => sent.splice(0).map((s) => s.body) };
}

let seq = 0;

/** Runs keygate's queue() handler on these messages; returns which were acked and retried. */
export async function consume(env: Env, bodies: QueueMessage[], queueName = 'keygate-events', attempts = 1) {
  const batch = createMessageBatch<QueueMessage>(
    queueName,
    bodies.map((body) => ({ id: `m${++seq}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await (worker as ExportedHandler<Env, QueueMessage>).queue?.(batch as MessageBatch<QueueMessage>, env, ctx);
  return getQueueResult(batch, ctx);
}
