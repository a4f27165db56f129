// Keeps clients on the gateway when the upstream points them somewhere: a `Location`,
// `Content-Location`, `Refresh` or `Link` URL that resolves into the route's upstream (its
// origin and base path) is rewritten to the gateway URL that reaches the same place through
// the route. Without this, a relative redirect loses the route prefix and an absolute one
// sends the client, and the key it sends along, straight to the upstream. A URL on the
// upstream's origin that the route cannot reach (outside its base path, or a gateway path
// that is reserved or belongs to another route) is removed rather than passed on: followed
// as sent, it would carry the key to the upstream or into another route. URLs on other
// origins are left alone.

import { matchRoute, type LoadedConfig } from '../config/load';
import type { Route } from '../config/schema';
import { isSafeRemainder } from './path-safety';
import { isReservedPath } from './reserved';
import { parsedUpstream } from './upstream-url';

/** Where the request went and how the client addressed the gateway. */
export interface RedirectBase {
  /** The URL the upstream was asked for: relative references resolve against it. */
  url: string;
  /** Scheme and host of the gateway as the client addressed it. */
  proto: string;
  host: string;
}

export type RedirectTarget = { kind: 'gateway'; url: string } | { kind: 'elsewhere' } | { kind: 'unreachable' };

const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// The part of a Refresh value before its URL. Anchored, and no two adjacent runs can match
// the same characters, so it runs in linear time on whatever the upstream sends.
const REFRESH_HEAD = /^\s*\d[\d.]*\s*[;,]\s*(?:url\s*=\s*)?/i;
// One `<uri-reference>` of a Link header.
const LINK_REF = /<([^>]*)>/g;

const ELSEWHERE: RedirectTarget = { kind: 'elsewhere' };
const UNREACHABLE: RedirectTarget = { kind: 'unreachable' };

/** What an upstream URL reference becomes on the gateway. */
export function redirectTarget(reference: string, route: Route, at: RedirectBase, config?: LoadedConfig): RedirectTarget {
  const ref = reference.trim();
  let resolved: URL;
  try {
    resolved = new URL(ref, at.url);
  } catch {
    return ELSEWHERE;
  }
  const { base, basePath } = parsedUpstream(route.upstream);
  if (resolved.origin !== base.origin) return ELSEWHERE;
  let path = resolved.pathname;
  if (basePath !== '') {
    if (path !== basePath && !path.startsWith(`${basePath}/`)) return UNREACHABLE;
    path = path.slice(basePath.length);
  }
  let gatewayPath: string;
  let rest = path;
  if (route.path === '/') gatewayPath = path || '/';
  else if (route.strip_prefix) gatewayPath = route.path + path;
  else if (path === route.path || path.startsWith(`${route.path}/`)) {
    gatewayPath = path;
    rest = path.slice(route.path.length);
  } else return UNREACHABLE;
  // The gateway forwards only safe remainders; an empty segment would also turn a relative
  // `//host/...` into a reference to another host.
  if (!isSafeRemainder(rest)) return UNREACHABLE;
  // Only a path this route proxies reaches the same place: not keygate's own, not another route's.
  if (config !== undefined && (isReservedPath(gatewayPath) || matchRoute(config, gatewayPath) !== route)) return UNREACHABLE;
  const tail = gatewayPath + resolved.search + resolved.hash;
  // Keep the reference's form: absolute stays absolute, relative becomes path-absolute.
  return { kind: 'gateway', url: HAS_SCHEME.test(ref) || ref.startsWith('//') ? `${at.proto}://${at.host}${tail}` : tail };
}

/** The gateway URL for an upstream URL reference, or null when it is not one the route reaches. */
export function gatewayUrlFor(reference: string, route: Route, at: RedirectBase, config?: LoadedConfig): string | null {
  const target = redirectTarget(reference, route, at, config);
  return target.kind === 'gateway' ? target.url : null;
}

/** `Refresh: <delay>; url=<url>` split into the part before the URL, its quote and the URL. */
function splitRefresh(value: string): { head: string; quote: string; url: string } | null {
  const m = REFRESH_HEAD.exec(value);
  if (m === null) return null;
  const head = m[0];
  let url = value.slice(head.length).trimEnd();
  let quote = '';
  const q = url.charAt(0);
  if ((q === '"' || q === "'") && url.length >= 2 && url.endsWith(q)) {
    quote = q;
    url = url.slice(1, -1);
  }
  return url ? { head, quote, url } : null;
}

function rewriteHeader(headers: Headers, name: string, value: string, target: RedirectTarget, build: (url: string) => string): void {
  if (target.kind === 'gateway') headers.set(name, build(target.url));
  else if (target.kind === 'unreachable') headers.delete(name);
}

/** Rewrites the response's redirect-style headers in place. */
export function rewriteRedirects(status: number, headers: Headers, route: Route, at: RedirectBase, config?: LoadedConfig): void {
  // Location means something only on redirects and 201 Created.
  const location = (status >= 300 && status < 400) || status === 201 ? headers.get('location') : null;
  if (location !== null) rewriteHeader(headers, 'location', location, redirectTarget(location, route, at, config), (u) => u);
  const contentLocation = headers.get('content-location');
  if (contentLocation !== null) rewriteHeader(headers, 'content-location', contentLocation, redirectTarget(contentLocation, route, at, config), (u) => u);
  const refresh = headers.get('refresh');
  if (refresh !== null) {
    const parts = splitRefresh(refresh);
    if (parts !== null) rewriteHeader(headers, 'refresh', refresh, redirectTarget(parts.url, route, at, config), (u) => `${parts.head}${parts.quote}${u}${parts.quote}`);
  }
  // Pagination (`Link: <...?page=2>; rel="next"`) is followed by clients with their key.
  const link = headers.get('link');
  if (link !== null) {
    let unreachable = false;
    const rewritten = link.replace(LINK_REF, (whole, ref: string) => {
      const target = redirectTarget(ref, route, at, config);
      if (target.kind === 'unreachable') unreachable = true;
      return target.kind === 'gateway' ? `<${target.url}>` : whole;
    });
    if (unreachable) headers.delete('link');
    else if (rewritten !== link) headers.set('link', rewritten);
  }
}
