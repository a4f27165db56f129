// Human-readable output: tables, key/value blocks, usage bars, relative times. Colour only
// on a terminal and never with NO_COLOR; scripts should use --json.

/** @typedef {Record<string, any>} Key  a key record as the admin API presents it */

const useColor = Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';

/** @param {string} code @returns {(s: string) => string} */
const sgr = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = sgr('1');
export const dim = sgr('2');
export const red = sgr('31');
export const green = sgr('32');
export const yellow = sgr('33');

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
/** @param {string} s */
const width = (s) => [...s.replace(ANSI, '')].length;
/** @param {string} s @param {number} n */
const padEnd = (s, n) => s + ' '.repeat(Math.max(0, n - width(s)));
/** @param {string} s @param {number} n */
const padStart = (s, n) => ' '.repeat(Math.max(0, n - width(s))) + s;

/**
 * Shortens to at most n characters, ending in "…".
 * @param {string} s @param {number} n
 */
export function truncate(s, n) {
  const chars = [...s];
  return chars.length <= n ? s : `${chars.slice(0, n - 1).join('')}…`;
}

/** @param {string} status */
export function colorStatus(status) {
  if (status === 'active') return green(status);
  if (status === 'revoked' || status === 'expired') return red(status);
  return yellow(status);
}

/**
 * A plain aligned table. `align` marks right-aligned columns with 'r'.
 * @param {string[]} headers
 * @param {string[][]} rows
 * @param {{ align?: string }} [opts]
 */
export function table(headers, rows, opts = {}) {
  const align = opts.align ?? '';
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  /** @param {string[]} cells */
  const line = (cells) =>
    cells
      .map((c, i) => (align[i] === 'r' ? padStart(c ?? '', widths[i] ?? 0) : i === cells.length - 1 ? (c ?? '') : padEnd(c ?? '', widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [bold(line(headers)), ...rows.map(line)].join('\n');
}

/**
 * Aligned `label  value` lines; entries with value undefined are left out.
 * @param {[string, string | undefined][]} entries
 */
export function kv(entries) {
  const shown = /** @type {[string, string][]} */ (entries.filter(([, v]) => v !== undefined));
  const w = Math.max(...shown.map(([k]) => width(k)));
  return shown.map(([k, v]) => `${padEnd(dim(k), w)}  ${v.split('\n').join(`\n${' '.repeat(w + 2)}`)}`.trimEnd()).join('\n');
}

/**
 * "in 5m", "3h ago", "now".
 * @param {string | null | undefined} iso
 * @param {number} [now]
 */
export function relative(iso, now = Date.now()) {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = t - now;
  const secs = Math.round(Math.abs(diff) / 1000);
  if (secs === 0) return 'now';
  const units = /** @type {[string, number][]} */ ([
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ]);
  const idx = units.findIndex(([, size]) => secs >= size);
  let [unit, size] = /** @type {[string, number]} */ (units[idx]);
  let text;
  if (secs / size >= 10) {
    // Two digits or more: the nearest whole unit ("29d", "45m"), "60m" becoming "1h".
    let n = Math.round(secs / size);
    const bigger = units[idx - 1];
    if (bigger && n * size >= bigger[1]) [unit, n] = [bigger[0], Math.round((n * size) / bigger[1])];
    text = `${n}${unit}`;
  } else {
    // One digit: add the next unit for precision ("2h5m", "1d3h", "9m59s").
    const n = Math.floor(secs / size);
    text = `${n}${unit}`;
    const smaller = units[idx + 1];
    if (smaller) {
      const sub = Math.floor((secs - n * size) / smaller[1]);
      if (sub > 0) text += `${sub}${smaller[0]}`;
    }
  }
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/**
 * "2026-11-23 14:28:34Z (in 59m)", or `none` when null.
 * @param {string | null | undefined} iso
 * @param {string} [none]
 */
export function when(iso, none = '-') {
  if (!iso) return none;
  return `${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} ${dim(`(${relative(iso)})`)}`;
}

/** @param {number} n */
export const num = (n) => n.toLocaleString('en-US');
/** @param {number} n */
export const usd = (n) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`;

/**
 * A text bar: [#######·············]  35%
 * @param {number} used @param {number} limit @param {number} [size]
 */
export function bar(used, limit, size = 20) {
  const ratio = limit > 0 ? Math.min(1, Math.max(0, used / limit)) : used > 0 ? 1 : 0;
  const filled = limit <= 0 ? size : Math.round(ratio * size);
  const pct = limit > 0 ? `${Math.round((used / limit) * 100)}%` : 'blocked';
  const paint = limit <= 0 || ratio >= 0.9 ? red : ratio >= 0.7 ? yellow : green;
  return `[${paint('#'.repeat(filled))}${dim('·'.repeat(size - filled))}] ${padStart(pct, 4)}`;
}

/** @param {Record<string, number> | null | undefined} limits */
export function limitsText(limits) {
  if (!limits || Object.keys(limits).length === 0) return '-';
  return Object.entries(limits)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(', ');
}

/** @param {string[] | undefined} list @param {string} [none] */
const listText = (list, none = '-') => (list && list.length ? list.join(', ') : none);

/**
 * The key/value block for one key.
 * @param {Key} k
 */
export function keyBlock(k) {
  return kv([
    ['id', bold(k.id)],
    ['display', k.display],
    ['name', k.name || '-'],
    ['description', k.description ? k.description : undefined],
    ['owner', k.owner ?? '-'],
    ['type', k.type],
    ['status', colorStatus(k.status)],
    ['scopes', listText(k.scopes)],
    ['tags', listText(k.tags)],
    ['metadata', k.metadata && Object.keys(k.metadata).length ? JSON.stringify(k.metadata) : '-'],
    ['allowed ips', listText(k.allowed_ips, 'any')],
    ['allowed referers', listText(k.allowed_referers, 'any')],
    ['limits', limitsText(k.limits)],
    [
      'model limits',
      k.model_limits && Object.keys(k.model_limits).length
        ? Object.entries(k.model_limits)
            .map(([m, l]) => `${m}: ${limitsText(/** @type {any} */ (l))}`)
            .join('\n')
        : undefined,
    ],
    ['budget', k.budget ? `${usd(k.budget.usd)} per ${k.budget.period === 'total' ? 'lifetime (total)' : k.budget.period}` : '-'],
    ['expires', when(k.expires_at, 'never')],
    ['last used', when(k.last_used_at, 'never')],
    ['created', when(k.created_at)],
    ['updated', when(k.updated_at)],
    ['revoked', k.revoked_at ? `${when(k.revoked_at)}${k.revoked_reason ? `: ${k.revoked_reason}` : ''}` : undefined],
    ['rotated to', k.rotated_to ?? undefined],
  ]);
}

/**
 * The table of keys used by list and find.
 * @param {Key[]} keys
 */
export function keysTable(keys) {
  return table(
    ['ID', 'DISPLAY', 'NAME', 'OWNER', 'TYPE', 'STATUS', 'EXPIRES', 'LAST USED'],
    keys.map((k) => [
      k.id,
      k.display,
      truncate(k.name || '-', 28),
      truncate(k.owner ?? '-', 24),
      k.type,
      colorStatus(k.status),
      k.expires_at ? relative(k.expires_at) : 'never',
      k.last_used_at ? relative(k.last_used_at) : 'never',
    ]),
  );
}

/** @param {number} s */
function windowName(s) {
  if (s % 86400 === 0) return s === 86400 ? 'day' : `${s / 86400}d`;
  if (s % 3600 === 0) return s === 3600 ? 'hour' : `${s / 3600}h`;
  if (s % 60 === 0) return s === 60 ? 'minute' : `${s / 60}m`;
  return `${s}s`;
}

/**
 * Usage windows and budget as a table with bars.
 * @param {{ key_id?: string, owner?: string, store: string, windows: any[], budget: any, credits?: { remaining: number, refill_at: string | null } | null }} u
 */
export function usageView(u) {
  /** @type {string[][]} */
  const rows = u.windows.map((w) => [
    w.name,
    `${w.kind}/${windowName(w.window_seconds)}`,
    bar(w.used, w.limit),
    `${num(w.used)} / ${num(w.limit)}`,
    num(w.remaining),
    relative(w.reset),
  ]);
  if (u.credits) {
    rows.push(['credits', 'credits', '', num(u.credits.remaining), num(u.credits.remaining), u.credits.refill_at ? relative(u.credits.refill_at) : 'never']);
  }
  if (u.budget) {
    const b = u.budget;
    rows.push([
      'budget',
      `usd/${b.period}`,
      bar(b.spent_usd, b.usd),
      `${usd(b.spent_usd)} / ${usd(b.usd)}`,
      usd(b.remaining_usd),
      b.reset ? relative(b.reset) : 'never',
    ]);
  }
  const head = kv([
    u.owner !== undefined ? ['owner', u.owner] : ['key', u.key_id],
    ['store', u.store],
  ]);
  if (rows.length === 0) return `${head}\n\nno limits or budget apply to this ${u.owner !== undefined ? 'owner' : 'key'}`;
  return `${head}\n\n${table(['WINDOW', 'KIND', 'USAGE', 'USED / LIMIT', 'REMAINING', 'RESETS'], rows, { align: '...rr.' })}`;
}

/**
 * Audit entries as a table.
 * @param {{ at: string, actor: string, action: string, key_id: string | null, changes: string[] }[]} entries
 */
export function auditTable(entries) {
  return table(
    ['AT', 'ACTOR', 'ACTION', 'KEY', 'CHANGES'],
    entries.map((e) => [e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.actor, e.action, e.key_id ?? '-', e.changes.join(', ') || '-']),
  );
}

/**
 * The plaintext (a key, or a signing secret), once, with the warning.
 * @param {string} plaintext
 * @param {string} [label]
 */
export function plaintextBlock(plaintext, label = 'key') {
  return kv([
    [label, bold(plaintext)],
    ['', yellow('store it now; it will not be shown again')],
  ]);
}
