// Maps a gateway URL onto the route's upstream. A request can never leave its route's
// upstream origin or base path: every segment after the prefix must pass path-safety.ts
// (dot segments however encoded, `..;`, control characters, encoded slashes), and empty
// segments are refused rather than normalised.

import { LruCache } from '../lib/lru';
import type { Route } from '../config/schema';
import { isSafeRemainder } from './path-safety';

export type UpstreamUrlResult = { ok: true; url: string } | { ok: false };

/**
 * `rawPath` is the request path exactly as received (not normalised), `search` includes
 * its leading `?` (or is empty) and has already lost any query-string credential.
 */
export function upstreamUrl(route: Route, rawPath: string, search: string): UpstreamUrlResult {
  if (rawPath !== route.path && !rawPath.startsWith(`${route.path}/`) && route.path !== '/') return { ok: false };
  const rest = route.path === '/' ? rawPath : rawPath.slice(route.path.length);
  if (!isSafeRemainder(rest)) return { ok: false };
  const { base, basePath } = parsedUpstream(route.upstream);
  const forwardedPath = route.strip_prefix || route.path === '/' ? rest : route.path + rest;
  const path = `${basePath}${forwardedPath || (basePath ? '' : '/')}`;
  // Fast path, no URL object: the path starts with '/', none of its parts has a dot segment
  // (base path: parsed; route path: config schema; remainder: isSafeRemainder), and every
  // character is one the WHATWG parser copies verbatim, so the string is already its output.
  if (VERBATIM_PATH.test(path) && VERBATIM_QUERY.test(search)) return { ok: true, url: `${base.origin}${path}${search}` };
  const target = new URL(`${base.origin}${path}${search}`);
  // Belt and braces: the URL parser must not have moved us off the upstream.
  if (target.origin !== base.origin || !target.pathname.startsWith(basePath)) return { ok: false };
  return { ok: true, url: target.toString() };
}

// Characters an http(s) URL keeps as they are: no percent-encoding, no backslash-to-slash.
// The query set leaves out `'`, which special-scheme queries percent-encode.
const VERBATIM_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@\/%]*$/;
const VERBATIM_QUERY = /^(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@\/%?]*)?$/;

// Parsed once per upstream string per isolate. Routes come from configuration, so a few
// entries; the bound and TTL keep a configuration change from leaving old ones behind.
const parsedBases = new LruCache<string, { base: URL; basePath: string }>(256, 600_000);

export function parsedUpstream(upstream: string): { base: URL; basePath: string } {
  let parsed = parsedBases.get(upstream);
  if (!parsed) {
    const base = new URL(upstream);
    parsed = { base, basePath: base.pathname.replace(/\/+$/, '') };
    parsedBases.set(upstream, parsed);
  }
  return parsed;
}

/** Scheme, host, raw path and raw query of a request URL, by string slicing (no URL parse). */
export function splitRequestUrl(url: string): { proto: string; host: string; rawPath: string; search: string } {
  const schemeEnd = url.indexOf('://');
  const hostStart = schemeEnd + 3;
  let pathStart = url.indexOf('/', hostStart);
  if (pathStart === -1) pathStart = url.length;
  const hash = url.indexOf('#', pathStart);
  const end = hash === -1 ? url.length : hash;
  const q = url.indexOf('?', pathStart);
  const queryStart = q === -1 || q > end ? end : q;
  return {
    proto: url.slice(0, schemeEnd),
    host: url.slice(hostStart, pathStart),
    rawPath: url.slice(pathStart, queryStart) || '/',
    search: url.slice(queryStart, end),
  };
}
