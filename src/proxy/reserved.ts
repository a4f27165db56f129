// Paths keygate answers itself: never proxied, even by a `/` route, and never a place an
// upstream's redirect is rewritten to.

export function isReservedPath(path: string): boolean {
  return path === '/admin' || path.startsWith('/admin/') || path === '/_keygate' || path.startsWith('/_keygate/');
}
