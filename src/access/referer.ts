// Referer allowlists: host patterns such as `example.com`, `*.example.com` (subdomains
// only) or `*` (any referer, but one must be sent). An optional port must match exactly.

export function isValidRefererPattern(p: string): boolean {
  return p === '*' || /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?::\d{1,5})?$/.test(p);
}

function hostOf(referer: string): { host: string; port: string } | null {
  try {
    const url = new URL(referer);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return { host: url.hostname.toLowerCase(), port: url.port };
  } catch {
    return null;
  }
}

export function refererAllowed(patterns: readonly string[], referer: string | null): boolean {
  if (patterns.length === 0) return true;
  if (!referer) return false;
  const target = hostOf(referer);
  if (!target) return false;
  return patterns.some((raw) => {
    const pattern = raw.toLowerCase();
    if (pattern === '*') return true;
    const [hostPattern, port] = pattern.split(':') as [string, string | undefined];
    if (port !== undefined && port !== target.port) return false;
    if (hostPattern.startsWith('*.')) return target.host.endsWith(hostPattern.slice(1));
    return target.host === hostPattern;
  });
}
