// Removes a key's query parameter from a raw query string and leaves every other byte as
// the client sent it: re-serialising through URLSearchParams would turn `%20` into `+`,
// `flag` into `flag=` and escape `/`, `~` and `;`, which signed or picky upstreams notice.

/** The name of one `name=value` pair as URLSearchParams reads it (`+` is a space). */
function pairName(pair: string): string {
  const eq = pair.indexOf('=');
  const raw = eq === -1 ? pair : pair.slice(0, eq);
  if (raw.indexOf('%') === -1 && raw.indexOf('+') === -1) return raw;
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    // Not valid UTF-8 once decoded: URLSearchParams would read U+FFFD, never a plain name.
    return raw;
  }
}

/**
 * `search` (with its leading `?`, or empty) without any pair named `param`, in every
 * spelling URLSearchParams would read as that name.
 */
export function withoutQueryParam(search: string, param: string): string {
  if (search.length <= 1) return search;
  const pairs = search.slice(1).split('&');
  const kept: string[] = [];
  for (const pair of pairs) if (pairName(pair) !== param) kept.push(pair);
  if (kept.length === pairs.length) return search;
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}
