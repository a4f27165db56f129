// The one rule for which path segments keygate forwards. Upstream servers disagree about
// how they decode and normalise a path (Tomcat and Jetty drop `;params` before resolving
// `..`, some decode twice, some apply Unicode compatibility folding), so a segment is judged
// by the most aggressive reading any of them might apply: percent-decoded until nothing
// changes, then NFKC-normalised. A segment is refused when that reading
//   - is `.` or `..`, or becomes one once its `;params` are dropped,
//   - starts with `..` (`..;`, `..%09`, `..\`),
//   - holds a control character, `/` or `\` (or a look-alike a best-fit code page maps to
//     one: `∕`, `⁄`, `∖`, `⧸`, `⧹`),
//   - or can only be read by a decoder no standard allows: an overlong UTF-8 sequence
//     (`%C0%AE` is `.` to a lenient decoder) or IIS's `%uXXXX`.
// The WHATWG URL parser has already resolved plain `.`/`..` segments and turned `\` into `/`
// before the Worker sees the URL; everything it leaves encoded is judged here.

/** Rounds of percent-decoding before a still-encoded segment is refused outright. */
const MAX_DECODE_ROUNDS = 8;

const PERCENT_TRIPLET = /%[0-9A-Fa-f]{2}/;
// C0, DEL and C1 controls, and slashes by any other name.
const CONTROL_OR_SLASH = /[\u0000-\u001f\u007f-\u009f/\\\u2215\u2044\u2216\u29f8\u29f9]/;

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** One round of percent-decoding; invalid sequences stay as they are, bad UTF-8 becomes U+FFFD. */
function decodeOnce(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; ) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25 && PERCENT_TRIPLET.test(s.slice(i, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    // Copy one code point (surrogate pairs stay together) as UTF-8.
    const cp = s.codePointAt(i) as number;
    const len = cp > 0xffff ? 2 : 1;
    for (const b of encoder.encode(s.slice(i, i + len))) bytes.push(b);
    i += len;
  }
  return utf8.decode(new Uint8Array(bytes));
}

// Lead bytes C0/C1, and E0 or F0 followed by a byte too small for them: never valid UTF-8,
// only ever an overlong spelling of a shorter character.
const OVERLONG = /%C[01]|%E0%[89]|%F0%8/i;
const IIS_UNICODE = /%u[0-9A-F]{4}/i;

/** The segment as the most aggressive upstream would read it, or null when it never settles. */
export function fullyDecoded(segment: string): string | null {
  let s = segment;
  for (let round = 0; PERCENT_TRIPLET.test(s); round++) {
    if (round === MAX_DECODE_ROUNDS || OVERLONG.test(s)) return null;
    s = decodeOnce(s);
  }
  if (IIS_UNICODE.test(s)) return null;
  return s.normalize('NFKC');
}

// Segments of only these characters need no decoding and cannot normalise into anything
// else, so the common case costs one regex test.
const PLAIN_SEGMENT = /^[A-Za-z0-9_~!$&'()*+,=:@-][A-Za-z0-9._~!$&'()*+,=:@-]*$/;

export function isSafeSegment(segment: string): boolean {
  if (PLAIN_SEGMENT.test(segment)) return true;
  const s = fullyDecoded(segment);
  if (s === null) return false;
  if (s.startsWith('..') || CONTROL_OR_SLASH.test(s)) return false;
  const semi = s.indexOf(';');
  const bare = semi === -1 ? s : s.slice(0, semi);
  return bare !== '.' && bare !== '..';
}

/**
 * Whether the path after a route's prefix may be forwarded: empty, or `/` followed by
 * segments that are each safe, with no empty segment except a trailing one (`/a/` is fine,
 * `//a` and `/a//b` are not).
 */
export function isSafeRemainder(rest: string): boolean {
  if (rest === '') return true;
  if (rest.charCodeAt(0) !== 0x2f) return false;
  const segments = rest.slice(1).split('/');
  const last = segments.length - 1;
  for (let i = 0; i <= last; i++) {
    const seg = segments[i] as string;
    if (seg === '') {
      if (i !== last) return false;
      continue;
    }
    if (!isSafeSegment(seg)) return false;
  }
  return true;
}
