// Worker entry point: the HTTP app, the scheduled cleanup, and the limiter Durable Object.

import { app } from './app';
import type { Env } from './env';

export { LimiterObject } from './limits/durable-object';

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
