// Test helpers for the EVENTS queue: a producer that keeps what was sent, and a way to hand
// those messages to keygate's own queue() handler, as the Queues runtime would. Request and
// use events leave packed many to a message (src/events/emit.ts): `sent` lists them one by
// one, `raw` keeps the messages as sent.

import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import worker from '../../src/index';
import type { Env } from '../../src/env';
import { unpack, type QueueItem, type QueueMessage } from '../../src/events/messages';

export interface Captured {
  queue: Queue<QueueMessage>;
  /** Every event and job sent, packed events one by one. */
  sent: { body: QueueItem; delaySeconds?: number }[];
  /** The messages as sent (event packs as their text). */
  raw: { body: QueueMessage; delaySeconds?: number }[];
  /** How many send/sendBatch calls reached the queue. */
  calls: () => number;
  /** Takes (and forgets) everything sent so far. */
  drain(): QueueItem[];
}

export function capturingQueue(): Captured {
  const sent: Captured['sent'] = [];
  const raw: Captured['raw'] = [];
  let calls = 0;
  const keep = (body: QueueMessage, delaySeconds?: number) => {
    raw.push({ body: structuredClone(body), delaySeconds });
    if (typeof body !== 'string') return void sent.push({ body: structuredClone(body), delaySeconds });
    const events = unpack(body);
    if (!events) throw new Error(`not an event pack: ${body.slice(0, 100)}`);
    for (const e of events) sent.push({ body: e, delaySeconds });
  };
  const queue = {
    async send(body: QueueMessage, opts?: { delaySeconds?: number }) {
      calls++;
      keep(body, opts?.delaySeconds);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<QueueMessage>>) {
      calls++;
      for (const m of messages) keep(m.body, m.delaySeconds);
    },
  } as unknown as Queue<QueueMessage>;
  return { queue, sent, raw, calls: () => calls, drain: () => (raw.splice(0), sent.splice(0).map((s) => s.body)) };
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
