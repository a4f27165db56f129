// The keygate Hono app. A proxied request takes exactly this path (src/gateway/proxy.ts):
//   proxy: beginRequest -> resolveRoute -> [cors] -> prepareForward -> authenticate -> enforceLimits -> forward (-> meter, settle)
// /admin is its own app, mounted (see below); the key-holder endpoints come before the
// catch-all proxy route.

import { Hono } from 'hono';
import { adminApp } from './admin/app';
import { holderApp } from './holder/app';
import { jwks } from './identity/jwks-route';
import type { AppEnv } from './context';
import { emitRefusalEvent } from './events/request-event';
import { GatewayError } from './errors';
import { notFound, onError } from './http/errors';
import { requestContext } from './http/request-context';
import { proxy } from './gateway/proxy';

export const app = new Hono<AppEnv>();

// Mounted, not merged with app.route(): the admin routes' patterns (/keys/find beside
// /keys/:id/revoke) are ones Hono's RegExpRouter cannot compile, so merging them would put
// every proxied request on the slower TrieRouter. The admin app installs its own request
// context and the same error handlers; registered first, it answers /admin/* alone.
app.mount('/admin', adminApp.fetch);
// Public, before the key holders' app (whose middleware asks for a key).
app.get('/_keygate/jwks.json', requestContext(), jwks);
app.route('/_keygate', holderApp);
// Reserved prefixes answer for themselves: an unknown /_keygate path is a 404 here, never a
// request for a `/` route's upstream.
app.all('/_keygate', notFound);
app.all('/_keygate/*', notFound);
app.all('*', proxy);

// A refusal of an identified key (revoked, rate limited, upstream down, ...) is a request event too.
app.onError((err, c) => {
  const response = onError(err, c);
  if (err instanceof GatewayError) emitRefusalEvent(c, err, response);
  return response;
});
app.notFound(notFound);
