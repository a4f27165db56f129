// First middleware on every request: request id, configuration (parsed once per isolate),
// services, and the Server-Timing header on the way out.

import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { loadConfig } from '../config/load';
import { newRequestId } from '../lib/ids';
import { servicesFor } from '../services';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext() {
  return createMiddleware<AppEnv>(async function requestContext(c, next) {
    const incoming = c.req.header('x-request-id');
    c.set('requestId', incoming && CLIENT_REQUEST_ID.test(incoming) ? incoming : newRequestId());
    c.set('timings', []);
    const loaded = loadConfig(c.env);
    if (!loaded.ok) throw new GatewayError('config_invalid', `Invalid configuration: ${loaded.message}`);
    c.set('config', loaded.config);
    c.set('services', servicesFor(c.env, loaded.config));
    await next();
    const timings = c.get('timings');
    if (timings.length > 0) {
      try {
        c.res.headers.set('server-timing', timings.join(', '));
      } catch {
        // Immutable headers (a Response passed through untouched): timing is best effort.
      }
    }
  });
}

export function addTiming(timings: string[], name: string, ms: number, desc?: string): void {
  timings.push(`${name}${desc ? `;desc="${desc}"` : ''};dur=${ms.toFixed(2)}`);
}
