// Worker entry point: the HTTP app, the scheduled cleanup, the EVENTS queue consumer, and the
// limiter Durable Object.

import { app } from './app';
import type { Env } from './env';
import type { QueueMessage } from './events/messages';
import { consume } from './events/consumer';
import { runCleanup } from './scheduled';

export { LimiterObject } from './limits/durable-object';

export default {
  fetch: app.fetch,
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(runCleanup(env));
  },
  // Request events and webhook jobs (src/events/consumer.ts).
  async queue(batch, env) {
    await consume(batch, env);
  },
} satisfies ExportedHandler<Env, QueueMessage>;
