// Worker entry point: the HTTP app, the scheduled cleanup, and the limiter Durable Object.

import { app } from './app';
import type { Env } from './env';
import { runCleanup } from './scheduled';

export { LimiterObject } from './limits/durable-object';

export default {
  fetch: app.fetch,
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(runCleanup(env));
  },
} satisfies ExportedHandler<Env>;
