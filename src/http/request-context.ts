// What every request starts with: a request id, the configuration (parsed once per isolate),
// the services, and the Server-Timing entries written onto the response on the way out.
// The proxy handler calls beginRequest itself (one handler, no middleware chain on the hot
// path); the admin and key-holder apps use the requestContext() middleware.

import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { loadConfig } from '../config/load';
import { newRequestId } from '../lib/ids';
import { servicesFor } from '../services';

export function beginRequest(c: Context<AppEnv>): void {
  // Always keygate's own: a client's x-request-id is forwarded as its correlation id, but
  // never becomes the id keygate logs, answers with and vouches for upstream.
  c.set('requestId', newRequestId());
  c.set('timings', []);
  c.set('startedAt', Date.now());
  const loaded = loadConfig(c.env);
  if (!loaded.ok) throw new GatewayError('config_invalid', `Invalid configuration: ${loaded.message}`);
  c.set('config', loaded.config);
  c.set('services', servicesFor(c.env, loaded.config));
}

export function requestContext() {
  return createMiddleware<AppEnv>(async function requestContext(c, next) {
    beginRequest(c);
    await next();
    const timing = serverTiming(c);
    try {
      // Every admin and key-holder response carries its request id, successes included.
      c.res.headers.set('x-request-id', c.get('requestId'));
      c.res.headers.set('x-gateway-request-id', c.get('requestId'));
      if (timing !== null) c.res.headers.set('server-timing', timing);
    } catch {
      // Immutable headers (a Response passed through untouched): best effort.
    }
  });
}

/** The Server-Timing value for this request so far, or null when nothing was timed. */
export function serverTiming(c: Context<AppEnv>): string | null {
  const timings = c.get('timings');
  return timings !== undefined && timings.length > 0 ? timings.join(', ') : null;
}

export function addTiming(timings: string[], name: string, ms: number, desc?: string): void {
  timings.push(`${name}${desc ? `;desc="${desc}"` : ''};dur=${ms.toFixed(2)}`);
}
