// Request events with keygate's queue consumer deferred until after the measured slices, the
// way production runs it: on Cloudflare the consumer runs in invocations of its own, while in
// Miniflare it shares the gateway's single workerd thread (with the queue broker and D1) and
// its D1 writes would count against the gateway's throughput.
//
// The gateway, its real producer (emit.ts, the EVENTS binding) and Miniflare's queue broker
// run as usual; the queue's consumer is a stand-in Worker in the same workerd that only keeps
// each batch in memory and acknowledges it. After the measurement, `drain()` takes the held
// messages and gives every one, as it was queued, to keygate's own queue() handler in the
// same workerd and D1, and retries what it asks to retry, like the queue would. The bench then
// checks that request_log holds a row for every request.

/**
 * The stand-in consumer: it keeps each batch's messages in its own memory, in workerd, and
 * acknowledges them. Nothing leaves workerd during the measurement: a hand-over to Node (a
 * service binding carrying megabytes of JSON every few seconds) cost the bench's Node process
 * ~28 µs per logged request, charged to the logging target as if keygate spent it.
 */
const RELAY = `const held = [];
let lastArrival = 0;
export default {
  async queue(batch) {
    for (const m of batch.messages) held.push({ id: m.id, timestamp: m.timestamp.getTime(), body: m.body });
    lastArrival = Date.now();
    batch.ackAll();
  },
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/status') return Response.json({ held: held.length, lastArrival });
    // /take: every held message, handed over once.
    return Response.json(held.splice(0));
  },
};`;

const MAX_ATTEMPTS = 10;

export function deferredConsumer() {
  const relay = {
    name: 'events-relay',
    modules: [{ type: 'ESModule', path: 'relay.mjs', contents: RELAY }],
    compatibilityDate: '2026-04-20',
    // wrangler.toml's batching: the broker hands a batch over on the queue's own schedule (at
    // 100 messages or 5 s after the first), as the Queues service would, wherever that falls.
    queueConsumers: { 'keygate-events': { maxBatchSize: 100, maxBatchTimeout: 5 } },
  };

  /**
   * Waits for the queue to hand over what it still holds, then runs keygate's queue()
   * handler on every held message. Returns the messages consumed and the request events in them.
   * @param {import('miniflare').Miniflare} mf
   */
  async function drain(mf) {
    // Called once the load has stopped: the producer's last send leaves within 100 ms, and the
    // broker hands over each batch at most 5 s (maxBatchTimeout above) after its first message.
    const relayWorker = await mf.getWorker('events-relay');
    const status = async () => /** @type {{ held: number, lastArrival: number }} */ (await (await relayWorker.fetch('http://relay/status')).json());
    const started = Date.now();
    for (;;) {
      const { lastArrival } = await status();
      if (Date.now() - started >= 5500 && Date.now() - lastArrival >= 1000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    /** @type {{ id: string, timestamp: number, body: unknown }[]} */
    const held = /** @type {any} */ (await (await relayWorker.fetch('http://relay/take')).json());
    const worker = await mf.getWorker('keygate');
    let pending = held.map((m) => ({ ...m, attempts: 1 }));
    let messages = 0;
    let requests = 0;
    while (pending.length > 0) {
      const retry = [];
      for (let i = 0; i < pending.length; i += 100) {
        const chunk = pending.slice(i, i + 100);
        const result = /** @type {{ outcome: string, ackAll: boolean, retryBatch: { retry: boolean }, explicitAcks: string[], retryMessages: { msgId: string }[] }} */ (
          await worker.queue('keygate-events', chunk.map((m) => ({ id: m.id, timestamp: new Date(m.timestamp), attempts: m.attempts, body: m.body })))
        );
        const retried = new Set(result.retryMessages.map((r) => r.msgId));
        const all = result.outcome !== 'ok' || result.retryBatch.retry;
        for (const m of chunk) {
          if (all || retried.has(m.id)) {
            if (m.attempts >= MAX_ATTEMPTS) throw new Error(`deferred consumer: message ${m.id} refused ${MAX_ATTEMPTS} times`);
            retry.push({ ...m, attempts: m.attempts + 1 });
          } else {
            messages++;
            const list = typeof m.body === 'string' ? (JSON.parse(m.body).events ?? []) : [m.body];
            requests += list.filter((/** @type {any} */ e) => e?.kind === 'request').length;
          }
        }
      }
      pending = retry;
    }
    return { messages, requests };
  }

  return { relay, drain };
}
