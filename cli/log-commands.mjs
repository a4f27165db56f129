// `keygate keys logs <id> [--follow]` and `keygate keys analytics <id>`: the request log and
// the hourly analytics of one key.

import { UsageError } from './errors.mjs';
import { dim, green, num, red, table, usd, yellow } from './format.mjs';
import { positiveInt } from './options.mjs';

const KEY_ID_RE = /^key_[0-9A-Z]{26}$/;
const FOLLOW_INTERVAL_MS = 2000;

/** @param {string | undefined} id */
function keyIdArg(id) {
  if (id && KEY_ID_RE.test(id)) return id;
  throw new UsageError(`"${id ?? ''}" is not a key id (expected key_ followed by 26 characters)`);
}

/** @param {number} status */
function httpStatus(status) {
  const text = String(status);
  return status < 400 ? green(text) : status === 429 || status === 402 ? yellow(text) : red(text);
}

/** @param {any[]} entries newest first */
export function logsTable(entries) {
  return table(
    ['AT', 'STATUS', 'OUTCOME', 'METHOD', 'PATH', 'MS', 'TOKENS', 'COST'],
    entries.map((e) => [
      e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      httpStatus(e.status),
      e.outcome,
      e.method,
      e.path,
      e.latency_ms?.total === null || e.latency_ms?.total === undefined ? '-' : String(Math.round(e.latency_ms.total)),
      e.input_tokens === null ? '-' : `${num(e.input_tokens)}/${num(e.output_tokens ?? 0)}`,
      e.cost_usd === null ? '-' : usd(e.cost_usd),
    ]),
  );
}

/** @param {any[]} series */
export function analyticsTable(series) {
  return table(
    ['T', 'REQUESTS', 'ERRORS', '429', 'TOKENS IN', 'TOKENS OUT', 'COST', 'P50', 'P99'],
    series.map((p) => [
      p.t.replace('T', ' ').replace(/:00\.000Z$/, 'Z'),
      num(p.requests),
      num(p.errors),
      num(p.rate_limited),
      num(p.input_tokens),
      num(p.output_tokens),
      usd(p.cost_usd),
      p.p50_ms === null ? '-' : `≤${p.p50_ms}ms`,
      p.p99_ms === null ? '-' : `≤${p.p99_ms}ms`,
    ]),
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @type {import('./commands.mjs').Command[]} */
export const LOG_COMMANDS = [
  {
    path: ['keys', 'logs'],
    args: '<id>',
    summary: "Show a key's request log, newest first (--follow prints new requests as they arrive)",
    options: {
      status: { type: 'string', arg: '<code>', help: 'only this HTTP status' },
      outcome: { type: 'string', arg: '<code>', help: 'ok, or an error code such as rate_limited' },
      since: { type: 'string', arg: '<iso>', help: 'from this date-time (ISO 8601)' },
      limit: { type: 'string', arg: '<n>', help: 'show at most n (default 50, max 200)' },
      follow: { type: 'boolean', short: 'f', help: 'keep polling and print new entries (Ctrl-C to stop)' },
    },
    positionals: [1, 1],
    examples: ['keygate keys logs key_01... --outcome rate_limited', 'keygate keys logs key_01... --follow'],
    async run(ctx) {
      const id = keyIdArg(ctx.positionals[0]);
      const limit = ctx.values.limit === undefined ? 50 : Math.min(200, positiveInt('--limit', ctx.values.limit));
      const query = { status: ctx.values.status, outcome: ctx.values.outcome, since: ctx.values.since, limit };
      const page = await ctx.client().request('GET', `/admin/keys/${id}/logs`, { query });
      const entries = /** @type {any[]} */ (page.entries);
      if (!ctx.values.follow) {
        if (ctx.json) return ctx.print(JSON.stringify(page, null, 2));
        if (entries.length === 0) return ctx.print('no requests logged');
        ctx.print(logsTable(entries));
        if (page.next_cursor) ctx.print(dim(`\nolder entries: --limit or GET /admin/keys/${id}/logs?cursor=${page.next_cursor}`));
        return;
      }
      // Follow: print oldest first, then poll for ids newer than the last one seen. Events
      // reach the log through the queue, seconds after the request.
      const seen = new Set(entries.map((e) => e.id));
      const show = (/** @type {any[]} */ list) => {
        if (list.length === 0) return;
        if (ctx.json) for (const e of list) ctx.print(JSON.stringify(e));
        else ctx.print(logsTable(list));
      };
      show([...entries].reverse());
      let since = entries[0]?.at ?? new Date(Date.now() - 60_000).toISOString();
      for (;;) {
        await sleep(FOLLOW_INTERVAL_MS);
        const next = await ctx.client().request('GET', `/admin/keys/${id}/logs`, { query: { ...query, since, limit: 200 } });
        const fresh = /** @type {any[]} */ (next.entries).filter((e) => !seen.has(e.id)).reverse();
        for (const e of fresh) seen.add(e.id);
        if (seen.size > 10_000) seen.clear();
        show(fresh);
        if (fresh.length > 0) since = fresh[fresh.length - 1].at;
      }
    },
  },
  {
    path: ['keys', 'analytics'],
    args: '<id>',
    summary: "Show a key's requests, errors, tokens, spend and latency per hour or day",
    options: {
      since: { type: 'string', arg: '<iso>', help: 'start (default: 7 days before --until)' },
      until: { type: 'string', arg: '<iso>', help: 'end (default: now)' },
      granularity: { type: 'string', arg: '<hour|day>', help: 'step of the series (default hour)' },
    },
    positionals: [1, 1],
    examples: ['keygate keys analytics key_01... --granularity day'],
    async run(ctx) {
      const id = keyIdArg(ctx.positionals[0]);
      const g = ctx.values.granularity;
      if (g !== undefined && g !== 'hour' && g !== 'day') throw new UsageError('--granularity must be hour or day');
      const out = await ctx.client().request('GET', `/admin/keys/${id}/analytics`, { query: { since: ctx.values.since, until: ctx.values.until, granularity: g } });
      if (ctx.json) return ctx.print(JSON.stringify(out, null, 2));
      const points = /** @type {any[]} */ (out.series).filter((p) => p.requests > 0);
      if (points.length === 0) return ctx.print(`no requests between ${out.since} and ${out.until}`);
      ctx.print(analyticsTable(points));
    },
  },
];
