// The keygate Hono app. A proxied request takes exactly this path:
//   requestContext -> proxy: resolveRoute -> authenticate -> enforceLimits -> forward (-> meter, settle)
// Admin and key-holder endpoints are mounted before the catch-all proxy route.

import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { adminApp } from './admin/app';
import { adminUi } from './admin/ui-route';
import { holderApp } from './holder/app';
import type { AppEnv } from './context';
import { errorResponse, GatewayError } from './errors';
import { proxy } from './middleware/proxy';
import { requestContext } from './middleware/request-context';

export const app = new Hono<AppEnv>();

app.use('*', requestContext());
app.get('/admin/ui', adminUi); // public page (sign-in happens in it): before adminAuth
app.route('/admin', adminApp);
app.route('/_keygate', holderApp);
app.all('*', proxy);

app.onError((err, c) => {
  const requestId = c.get('requestId') ?? 'unknown';
  if (err instanceof GatewayError) {
    return errorResponse(err.code, requestId, err.message, { details: err.details, headers: err.headers });
  }
  if (err instanceof HTTPException && err.status === 400) {
    // Hono's validators throw this for unparseable JSON bodies.
    return errorResponse('invalid_json', requestId);
  }
  if (err instanceof HTTPException && err.status === 415) {
    return errorResponse('unsupported_media_type', requestId, 'Send the body as JSON with content-type: application/json.');
  }
  if (err instanceof HTTPException && err.status >= 400 && err.status < 500) {
    return errorResponse('bad_request', requestId);
  }
  // Log the class and message only: never request headers or key material.
  console.error(JSON.stringify({ level: 'error', request_id: requestId, error: err.name, message: err.message }));
  return errorResponse('internal_error', requestId);
});

app.notFound((c) => errorResponse('route_not_found', c.get('requestId') ?? 'unknown'));
