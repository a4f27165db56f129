// Keeps an upstream's cookies inside its route. The browser sees one origin, the gateway's,
// for every route: a cookie an upstream scopes to `Path=/` would go to every other route's
// upstream (and to /admin), and `Domain=<the gateway's parent>` would go to sibling hosts.
// So `Domain` is dropped (the cookie stays host-only) and `Path` is mapped the way redirects
// are: an upstream path the route reaches becomes its gateway path, anything else the
// route's own prefix.

import type { LoadedConfig } from '../config/load';
import type { Route } from '../config/schema';
import { redirectTarget, type RedirectBase } from './redirects';

function scopedCookie(cookie: string, route: Route, at: RedirectBase, config: LoadedConfig | undefined): string {
  const parts = cookie.split(';');
  const out = [parts[0] as string];
  for (let i = 1; i < parts.length; i++) {
    const attr = parts[i] as string;
    const eq = attr.indexOf('=');
    const name = (eq === -1 ? attr : attr.slice(0, eq)).trim().toLowerCase();
    if (name === 'domain') continue;
    if (name === 'path') {
      const value = eq === -1 ? '' : attr.slice(eq + 1).trim();
      const plainPath = value.startsWith('/') && !value.startsWith('//') && !/[?#]/.test(value);
      const target = plainPath ? redirectTarget(value, route, at, config) : null;
      out.push(` Path=${target?.kind === 'gateway' ? target.url : route.path}`);
      continue;
    }
    out.push(attr);
  }
  return out.join(';');
}

/** Rewrites the response's Set-Cookie headers in place; a no-op without any. */
export function scopeSetCookies(headers: Headers, route: Route, at: RedirectBase, config?: LoadedConfig): void {
  if (!headers.has('set-cookie')) return;
  const cookies = headers.getAll('set-cookie');
  headers.delete('set-cookie');
  for (const cookie of cookies) headers.append('set-cookie', scopedCookie(cookie, route, at, config));
}
