// CORS around the proxy path of a route that sets `cors` (src/proxy/cors.ts holds the
// policy): preflights are answered here, before any key is asked for, and every response
// of the route, refusals included, leaves with the CORS headers.

import type { Context } from 'hono';
import type { Cors, Route } from '../config/schema';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { answerPreflight, applyCors, corsPolicy, isPreflight } from '../proxy/cors';
import { onError } from '../http/errors';

export async function withCors(c: Context<AppEnv>, route: Route, cors: Cors, handle: (c: Context<AppEnv>, route: Route) => Promise<Response>): Promise<Response> {
  const policy = corsPolicy(route, cors);
  const request = c.req.raw;
  const origin = request.headers.get('origin');
  let response: Response;
  try {
    if (isPreflight(request.method, request.headers)) {
      const answer = answerPreflight(policy, origin, request.headers.get('access-control-request-method') ?? '');
      if (!answer.ok) {
        throw new GatewayError('forbidden', answer.reason === 'origin' ? 'This origin is not allowed by the route\'s CORS policy.' : 'This method is not allowed by the route\'s CORS policy.');
      }
      const requestId = c.get('requestId');
      answer.headers['x-request-id'] = requestId;
      answer.headers['x-gateway-request-id'] = requestId;
      return new Response(null, { status: 204, headers: answer.headers });
    }
    response = await handle(c, route);
  } catch (err) {
    response = onError(err as Error, c);
  }
  applyCors(response.headers, policy, origin);
  return response;
}
