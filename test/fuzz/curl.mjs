// A fuzz request as a curl command: secrets and ids as shell variables, bodies that survive
// the shell (bytes through printf, huge ones through head | tr).

/** @typedef {import('./requests.mjs').FuzzRequest} FuzzRequest */

const SHELL_VARS = /** @type {Record<string, string>} */ ({ ADMIN: 'ADMIN_TOKEN', KEY: 'KEY', METERED: 'METERED_KEY', KEY_ID: 'KEY_ID', METERED_ID: 'METERED_KEY_ID' });
/** @param {string} name */
const shellVar = (name) => SHELL_VARS[name] ?? (name.startsWith('ID') ? `TARGET_KEY_ID${name.slice(2)}` : name);

/**
 * A shell word for s: single-quoted literals, placeholders as shell variables, long runs of
 * one character as a printf so the command stays readable.
 * @param {string} s
 */
export function shellWord(s) {
  if (s === '') return "''";
  return s
    .split(/(\{\{\w+\}\}|(.)\2{63,})/su)
    .filter((part, i) => part !== undefined && part !== '' && i % 3 !== 2)
    .map((part) => {
      const ph = /^\{\{(\w+)\}\}$/.exec(part);
      if (ph) return `"$${shellVar(/** @type {string} */ (ph[1]))}"`;
      if (part.length >= 64 && [...part].every((c) => c === part[0])) return `"$(printf '${escapePrintf(part[0] ?? '')}%.0s' $(seq ${part.length}))"`;
      return `'${part.replaceAll("'", `'\\''`)}'`;
    })
    .join('');
}

/** @param {string} c */
function escapePrintf(c) {
  return c === "'" ? `'\\''` : c === '%' ? '%%' : c === '\\' ? '\\\\' : c;
}

/**
 * @param {FuzzRequest} req
 * @param {string} [base] shell expression for the gateway origin
 */
export function toCurl(req, base = '"$GW"') {
  const parts = ['curl', '-sS', '-i'];
  if (req.method === 'HEAD') parts.push('-I');
  else if (req.method !== 'GET' || req.body !== undefined) parts.push('-X', shellWord(req.method));
  parts.push('--path-as-is', `${base}${shellWord(req.path)}`);
  for (const [n, v] of req.headers) parts.push('-H', shellWord(`${n}: ${v}`));
  const body = req.body;
  if (body === undefined) return parts.join(' ');
  if (typeof body === 'string' && /^[\x20-\x7e]*$/.test(body)) return [...parts, '--data-binary', shellWord(body)].join(' ');
  parts.push('--data-binary', '@-');
  if (typeof body === 'object' && 'repeat' in body) return `head -c ${body.count} /dev/zero | tr '\\0' '${body.repeat}' | ${parts.join(' ')}`;
  const bytes = typeof body === 'string' ? [...new TextEncoder().encode(body)] : body.bytes;
  const escaped = bytes.map((b) => (b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c && b !== 0x25 ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`)).join('');
  return `printf '${escaped}' | ${parts.join(' ')}`;
}

/** How to set the variables the curls use. */
export const CURL_PREAMBLE = [
  '# GW: the gateway origin; ADMIN_TOKEN: its admin token. The routes are test/fuzz/requests.mjs fuzzRoutes().',
  '# KEY:             POST /admin/keys {"name":"fuzz"}                                   -> .key (KEY_ID: .id)',
  '# METERED_KEY:     POST /admin/keys {"name":"fuzz","budget":{"usd":1000,"period":"total"}} -> .key (METERED_KEY_ID: .id)',
  '# TARGET_KEY_IDn:  POST /admin/keys {"name":"fuzz","owner":"fuzz-target-n","tags":["fuzz"]} -> .id',
].join('\n');
