// Sub-path patterns for `metering.paths` and the usage formats' endpoints. A pattern is
// matched against the request path after the route prefix (the part forwarded below the
// upstream's base path), exactly as received, never decoded:
//   literal segments   match themselves, case-sensitively
//   `*`                one whole segment of [A-Za-z0-9._:~-] (not "." or "..")
//   `**`               zero or more such segments
// `/**/chat/completions` therefore matches `/chat/completions` and `/v1/chat/completions`.
// Wildcards never match a percent-encoded or empty segment, so a variant spelling of a path
// is "not listed" (and refused by default), never mistaken for a cheaper endpoint.

const SEGMENT = "(?!\\.\\.?(?:/|$))[A-Za-z0-9._:~-]+";

export function isValidPattern(pattern: string): boolean {
  return /^\/(?:[A-Za-z0-9._:~*-]+(?:\/[A-Za-z0-9._:~*-]+)*)?$/.test(pattern) && pattern.split('/').every((s) => !s.includes('*') || s === '*' || s === '**');
}

export function compilePattern(pattern: string): RegExp {
  const segments = pattern.split('/').slice(1);
  let source = '';
  for (const segment of segments) {
    if (segment === '**') source += `(?:/${SEGMENT})*`;
    else if (segment === '*') source += `/${SEGMENT}`;
    else source += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
  }
  return new RegExp(`^${source === '' ? '/?' : source}$`);
}

/** Compiles a list once; the matcher is what requests use. */
export function pathMatcher(patterns: readonly string[]): (subPath: string) => boolean {
  const res = patterns.map(compilePattern);
  return (subPath) => res.some((re) => re.test(subPath));
}
