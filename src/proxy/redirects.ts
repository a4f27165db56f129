// Keeps clients on the gateway when the upstream points them somewhere: a `Location`,
// `Content-Location` or `Refresh` URL that resolves into the route's upstream (its origin
// and base path) is rewritten to the gateway URL that reaches the same place through the
// route. Without this, a relative redirect loses the route prefix and an absolute one sends
// the client, and the key it sends along, straight to the upstream. URLs on other origins,
// or outside what the route can reach, are left alone.

import type { Route } from '../config/schema';
import { parsedUpstream } from './upstream-url';

/** Where the request went and how the client addressed the gateway. */
export interface RedirectBase {
  /** The URL the upstream was asked for: relative references resolve against it. */
  url: string;
  /** Scheme and host of the gateway as the client addressed it. */
  proto: string;
  host: string;
}

const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const REFRESH = /^(\s*\d[\d.]*\s*[;,]\s*(?:url\s*=\s*)?)(['"]?)(.*?)\2\s*$/i;

/** The gateway URL for an upstream URL reference, or null when it is not the upstream's. */
export function gatewayUrlFor(reference: string, route: Route, at: RedirectBase): string | null {
  const ref = reference.trim();
  let resolved: URL;
  try {
    resolved = new URL(ref, at.url);
  } catch {
    return null;
  }
  const { base, basePath } = parsedUpstream(route.upstream);
  if (resolved.origin !== base.origin) return null;
  let path = resolved.pathname;
  if (basePath !== '') {
    if (path !== basePath && !path.startsWith(`${basePath}/`)) return null;
    path = path.slice(basePath.length);
  }
  let gatewayPath: string;
  if (route.path === '/') gatewayPath = path || '/';
  else if (route.strip_prefix) gatewayPath = route.path + path;
  else if (path === route.path || path.startsWith(`${route.path}/`)) gatewayPath = path;
  else return null;
  const tail = gatewayPath + resolved.search + resolved.hash;
  // Keep the reference's form: absolute stays absolute, relative becomes path-absolute.
  return HAS_SCHEME.test(ref) || ref.startsWith('//') ? `${at.proto}://${at.host}${tail}` : tail;
}

/** Rewrites the response's redirect-style headers in place. */
export function rewriteRedirects(status: number, headers: Headers, route: Route, at: RedirectBase): void {
  // Location means something only on redirects and 201 Created.
  const location = (status >= 300 && status < 400) || status === 201 ? headers.get('location') : null;
  if (location !== null) {
    const rewritten = gatewayUrlFor(location, route, at);
    if (rewritten !== null) headers.set('location', rewritten);
  }
  const contentLocation = headers.get('content-location');
  if (contentLocation !== null) {
    const rewritten = gatewayUrlFor(contentLocation, route, at);
    if (rewritten !== null) headers.set('content-location', rewritten);
  }
  const refresh = headers.get('refresh');
  if (refresh !== null) {
    const m = REFRESH.exec(refresh);
    if (m !== null && m[3]) {
      const rewritten = gatewayUrlFor(m[3], route, at);
      if (rewritten !== null) headers.set('refresh', `${m[1]}${m[2]}${rewritten}${m[2]}`);
    }
  }
}
