// The CLI's commands: flags, help text and what each one sends and prints.

import { createHmac, randomUUID } from 'node:crypto';
import { ApiError, NetworkError, UsageError } from './errors.mjs';
import { auditTable, bold, dim, keyBlock, keysTable, kv, plaintextBlock, usageView, when } from './format.mjs';
import { LOG_COMMANDS } from './log-commands.mjs';
import { CREATE_FIELD_OPTIONS, FIELD_OPTIONS, fieldsBody, listOf, ownerBody, parseDuration, parseExpiry, positiveInt } from './options.mjs';

/**
 * @typedef {import('./options.mjs').OptionSpec} OptionSpec
 * @typedef {{
 *   values: Record<string, any>,
 *   positionals: string[],
 *   json: boolean,
 *   client: () => import('./client.mjs').AdminClient,
 *   print: (text: string) => void,
 *   note: (text: string) => void,
 * }} Ctx
 * @typedef {{
 *   path: string[],
 *   args?: string,
 *   summary: string,
 *   description?: string,
 *   options?: Record<string, OptionSpec>,
 *   positionals: [number, number],
 *   examples?: string[],
 *   run: (ctx: Ctx) => Promise<void>,
 * }} Command
 */

const KEY_ID_RE = /^key_[0-9A-Z]{26}$/;

/**
 * The one key id argument. A plaintext key is refused here so that it never ends up in a
 * URL (and in access logs).
 * @param {Ctx} ctx
 */
function keyId(ctx) {
  const id = /** @type {string} */ (ctx.positionals[0]);
  if (KEY_ID_RE.test(id)) return id;
  if (/^[a-z][a-z0-9]*(_[a-z0-9]+)*_[A-Za-z0-9]{20,}$/.test(id)) {
    throw new UsageError('that looks like a plaintext key, not a key id (key_...); use `keygate keys find --key -` to look it up');
  }
  throw new UsageError(`"${id}" is not a key id (expected key_ followed by 26 characters)`);
}

/** Reads a secret from stdin when given as "-". @param {string} value */
async function fromStdin(value) {
  if (value !== '-') return value;
  /** @type {Buffer[]} */
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(/** @type {Buffer} */ (chunk));
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) throw new UsageError('expected the key on stdin, got nothing');
  return text;
}

/** @param {Ctx} ctx @param {unknown} body */
const printJson = (ctx, body) => ctx.print(JSON.stringify(body, null, 2));

/**
 * Follows next_cursor until `cap` items or the end.
 * @param {Ctx} ctx
 * @param {string} path
 * @param {'keys' | 'entries' | 'owners'} field
 * @param {Record<string, string | undefined>} query
 * @param {{ cap: number, pageMax: number, cursor?: string }} opts
 */
async function paginate(ctx, path, field, query, opts) {
  /** @type {any[]} */
  const items = [];
  let cursor = opts.cursor;
  /** @type {string | null} */
  let next = null;
  do {
    const limit = Math.min(opts.pageMax, opts.cap - items.length);
    const page = await ctx.client().request('GET', path, { query: { ...query, cursor, limit } });
    items.push(...page[field]);
    next = page.next_cursor ?? null;
    cursor = next ?? undefined;
  } while (next && items.length < opts.cap);
  return { items, next };
}

/** --limit / --all / --cursor for list and audit. @param {Ctx} ctx */
function listLimits(ctx) {
  const all = Boolean(ctx.values.all);
  if (all && ctx.values.limit !== undefined) throw new UsageError('give --all or --limit, not both');
  const cap = all ? Infinity : ctx.values.limit !== undefined ? positiveInt('--limit', ctx.values.limit) : 50;
  return { cap, cursor: ctx.values.cursor };
}

/** @type {Record<string, OptionSpec>} */
const LIST_PAGING = {
  limit: { type: 'string', arg: '<n>', help: 'show at most n (default 50; pages of 100 are fetched as needed)' },
  all: { type: 'boolean', help: 'follow next_cursor to the end' },
  cursor: { type: 'string', arg: '<cursor>', help: 'start after this cursor (from a previous page)' },
};

/** An owner's policy as key/value lines. @param {Record<string, any>} o */
function ownerBlock(o) {
  const limits = o.limits ? Object.entries(o.limits).map(([k, n]) => `${k}=${n}`).join(' ') : '-';
  return kv([
    ['owner', o.owner],
    ['limits', limits],
    ['model limits', o.model_limits ? JSON.stringify(o.model_limits) : '-'],
    ['budget', o.budget ? `$${o.budget.usd}/${o.budget.period}` : '-'],
    ['models', o.models?.length ? o.models.join(', ') : 'any'],
    ['max concurrent', o.max_concurrent === null || o.max_concurrent === undefined ? '-' : String(o.max_concurrent)],
  ]);
}

/** @type {Command[]} */
export const COMMANDS = [
  {
    path: ['keys', 'create'],
    summary: 'Create a key (the plaintext is shown once)',
    options: {
      ...CREATE_FIELD_OPTIONS,
      prefix: { type: 'string', arg: '<prefix>', help: 'key prefix, one of the gateway KEY_PREFIXES (default KEY_PREFIX)' },
      'replace-existing': { type: 'boolean', help: "deactivate the owner's active keys when the owner is at its key cap" },
      'signing-secret': { type: 'boolean', help: 'also issue a signing secret for signed requests (shown once; see keygate sign)' },
    },
    positionals: [0, 0],
    examples: [
      'keygate keys create --name "search backend" --owner team-search --scope read --rpm 600 --ttl 90d',
      "keygate keys create --name ci --type service --budget-usd 20 --budget-period month --metadata '{\"ticket\":\"OPS-12\"}'",
    ],
    async run(ctx) {
      const v = ctx.values;
      const body = await fieldsBody(v, 'create', async () => ({}));
      if (v.prefix !== undefined) body.prefix = v.prefix;
      if (v['replace-existing']) body.replace_existing = true;
      if (v['signing-secret']) body.signing_secret = true;
      let created;
      try {
        created = await ctx.client().request('POST', '/admin/keys', { body });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'conflict' && /replace_existing/.test(err.message)) err.hint = '(pass --replace-existing)';
        throw err;
      }
      if (ctx.json) return printJson(ctx, created);
      const { key, signing_secret: secret, ...record } = created;
      ctx.print(`${keyBlock(record)}\n\n${plaintextBlock(key)}${secret ? `\n\n${plaintextBlock(secret, 'signing secret')}` : ''}`);
    },
  },
  {
    path: ['keys', 'list'],
    summary: 'List keys, newest first',
    options: {
      owner: { type: 'string', arg: '<owner>', help: 'only this owner' },
      tag: { type: 'string', arg: '<tag>', help: 'only keys with this tag' },
      type: { type: 'string', arg: '<type>', help: 'user | service | system' },
      status: { type: 'string', arg: '<status>', help: 'active | inactive | revoked | expired' },
      search: { type: 'string', arg: '<text>', help: 'only keys whose name contains this text' },
      ...LIST_PAGING,
    },
    positionals: [0, 0],
    examples: ['keygate keys list --owner team-search --status active', 'keygate keys list --all --json | jq -r ".keys[].id"'],
    async run(ctx) {
      const v = ctx.values;
      const { cap, cursor } = listLimits(ctx);
      const query = { owner: v.owner, tag: v.tag, type: v.type, status: v.status, q: v.search };
      const { items, next } = await paginate(ctx, '/admin/keys', 'keys', query, { cap, cursor, pageMax: 100 });
      if (ctx.json) return printJson(ctx, { keys: items, next_cursor: next });
      if (items.length === 0) return ctx.print('no keys');
      ctx.print(keysTable(items));
      ctx.print(dim(`\n${items.length} key(s)${next ? `; more with --cursor ${next} (or --all)` : ''}`));
    },
  },
  {
    path: ['keys', 'get'],
    args: '<id>',
    summary: 'Show one key',
    positionals: [1, 1],
    async run(ctx) {
      const key = await ctx.client().request('GET', `/admin/keys/${keyId(ctx)}`);
      ctx.print(ctx.json ? JSON.stringify(key, null, 2) : keyBlock(key));
    },
  },
  {
    path: ['keys', 'update'],
    args: '<id>',
    summary: 'Change a key (only the flags given are sent)',
    description:
      'Lists (--scope, --tag, --allowed-ip, --allowed-referer) replace the current list; pass an empty value (--tag "") to clear one.\n' +
      'Limit flags are merged into the current limits; "none" removes one (--rpm none), --no-limits removes all.\n' +
      '--budget-usd none removes the budget. --owner "" clears the owner. --expires-at never removes the expiry.',
    options: {
      ...FIELD_OPTIONS,
      'no-limits': { type: 'boolean', help: 'remove all per-key limits (route defaults apply)' },
    },
    positionals: [1, 1],
    examples: ['keygate keys update key_01... --name "search (prod)" --tag prod --tag search', 'keygate keys update key_01... --rpm 1200 --tpm none --ttl 30d'],
    async run(ctx) {
      const id = keyId(ctx);
      /** @type {Record<string, any> | undefined} */
      let cached;
      const current = async () => (cached ??= await ctx.client().request('GET', `/admin/keys/${id}`));
      const body = await fieldsBody(ctx.values, 'update', current);
      if (Object.keys(body).length === 0) throw new UsageError('nothing to update: give at least one field flag (see keygate keys update --help)');
      const key = await ctx.client().request('PATCH', `/admin/keys/${id}`, { body });
      ctx.print(ctx.json ? JSON.stringify(key, null, 2) : keyBlock(key));
    },
  },
  {
    path: ['keys', 'revoke'],
    args: '<id>',
    summary: 'Revoke a key for good (refused everywhere; on routes without limits within 1 s by default)',
    options: { reason: { type: 'string', arg: '<text>', help: 'why (required; kept in the record)' } },
    positionals: [1, 1],
    examples: ['keygate keys revoke key_01... --reason "leaked in a CI log"'],
    async run(ctx) {
      const id = keyId(ctx);
      const reason = ctx.values.reason;
      if (!reason || !String(reason).trim()) throw new UsageError('--reason <text> is required');
      const key = await ctx.client().request('POST', `/admin/keys/${id}/revoke`, { body: { reason } });
      ctx.print(ctx.json ? JSON.stringify(key, null, 2) : keyBlock(key));
    },
  },
  {
    path: ['keys', 'activate'],
    args: '<id>',
    summary: 'Activate a deactivated key',
    positionals: [1, 1],
    async run(ctx) {
      const key = await ctx.client().request('POST', `/admin/keys/${keyId(ctx)}/activate`);
      ctx.print(ctx.json ? JSON.stringify(key, null, 2) : keyBlock(key));
    },
  },
  {
    path: ['keys', 'deactivate'],
    args: '<id>',
    summary: 'Deactivate a key (reversible with activate)',
    positionals: [1, 1],
    async run(ctx) {
      const key = await ctx.client().request('POST', `/admin/keys/${keyId(ctx)}/deactivate`);
      ctx.print(ctx.json ? JSON.stringify(key, null, 2) : keyBlock(key));
    },
  },
  {
    path: ['keys', 'extend'],
    args: '<id>',
    summary: "Set a key's expiry (or remove it)",
    options: {
      ttl: { type: 'string', arg: '<dur>', help: 'expire this long from now: seconds, or 90m, 12h, 30d, 2w' },
      'expires-at': { type: 'string', arg: '<iso>', help: 'expire at this date-time (ISO 8601)' },
      never: { type: 'boolean', help: 'remove the expiry' },
    },
    positionals: [1, 1],
    examples: ['keygate keys extend key_01... --ttl 30d', 'keygate keys extend key_01... --never'],
    async run(ctx) {
      const id = keyId(ctx);
      const v = ctx.values;
      const given = ['ttl', 'expires-at', 'never'].filter((f) => v[f] !== undefined);
      if (given.length !== 1) throw new UsageError('give exactly one of --ttl, --expires-at or --never');
      const body = v.never ? { expires_at: null } : v.ttl !== undefined ? { ttl_seconds: parseDuration('--ttl', v.ttl) } : { expires_at: parseExpiry('--expires-at', v['expires-at']) };
      const key = await ctx.client().request('POST', `/admin/keys/${id}/extend`, { body });
      ctx.print(ctx.json ? JSON.stringify(key, null, 2) : keyBlock(key));
    },
  },
  {
    path: ['keys', 'rotate'],
    args: '<id>',
    summary: 'Issue a new key with the same settings; the old one keeps working for --grace',
    description:
      'Every rotate carries an Idempotency-Key. Without --idempotency-key a random one is generated and printed:\n' +
      'if the command fails or its output is lost, run it again with that key to get the same new key instead of a second one.',
    options: {
      grace: { type: 'string', arg: '<dur>', help: 'how long the old key keeps working: seconds, or 15m, 1h, 7d (default 0, max 30d)' },
      'idempotency-key': { type: 'string', arg: '<k>', help: 'reuse the key printed by an earlier attempt (8-200 chars)' },
    },
    positionals: [1, 1],
    examples: ['keygate keys rotate key_01... --grace 1h', 'keygate keys rotate key_01... --grace 1h --idempotency-key 0b6f...   # retry'],
    async run(ctx) {
      const id = keyId(ctx);
      const v = ctx.values;
      const grace = v.grace !== undefined ? parseDuration('--grace', v.grace, { allowZero: true }) : 0;
      const idem = v['idempotency-key'] ?? randomUUID();
      const retry = `(retry safely with --idempotency-key ${idem})`;
      let out;
      try {
        out = await ctx.client().request('POST', `/admin/keys/${id}/rotate`, { body: { grace_seconds: grace }, headers: { 'idempotency-key': idem } });
      } catch (err) {
        if (err instanceof NetworkError || (err instanceof ApiError && err.status >= 500)) err.hint = retry;
        throw err;
      }
      if (ctx.json) {
        if (v['idempotency-key'] === undefined) ctx.note(`idempotency key: ${idem}`);
        return printJson(ctx, out);
      }
      const { key, replayed, signing_secret: secret } = out;
      /** @type {Record<string, any>} */
      let previous = out.previous;
      /** @type {Record<string, any>} */
      let record = Object.fromEntries(Object.entries(out).filter(([k]) => !['key', 'signing_secret', 'previous', 'replayed'].includes(k)));
      if (replayed) {
        // A replay returns the records as they were at the first rotation; show them as they are now.
        const now = await Promise.allSettled([record.id, previous.id].map((k) => ctx.client().request('GET', `/admin/keys/${k}`)));
        if (now[0]?.status === 'fulfilled') record = now[0].value;
        if (now[1]?.status === 'fulfilled') previous = now[1].value;
      }
      const lines = [];
      lines.push(
        replayed
          ? `${bold('replayed')}: this idempotency key was used before; this is that rotation's result, no new key was issued`
          : `rotated ${previous.id} -> ${record.id}`,
      );
      lines.push('');
      lines.push(
        kv([
          ['old key', `${previous.id} (${previous.display})`],
          ['old key status', previous.status],
          ['old key works until', previous.status === 'active' ? when(previous.expires_at, 'no expiry') : 'no longer usable'],
        ]),
      );
      lines.push('', bold('new key'), keyBlock(record), '', plaintextBlock(key), '');
      // The old key had a signing secret: the new one has its own (the old secret stays the old key's).
      if (secret) lines.push(plaintextBlock(secret, 'signing secret'), '');
      lines.push(kv([['idempotency key', `${idem}  ${dim('(reuse with --idempotency-key to retry this rotation safely)')}`]]));
      ctx.print(lines.join('\n'));
    },
  },
  {
    path: ['keys', 'delete'],
    args: '<id>',
    summary: 'Delete a key (refused like a revoked one; the audit log keeps its history)',
    positionals: [1, 1],
    async run(ctx) {
      const out = await ctx.client().request('DELETE', `/admin/keys/${keyId(ctx)}`);
      ctx.print(ctx.json ? JSON.stringify(out, null, 2) : `deleted ${out.id}`);
    },
  },
  {
    path: ['keys', 'usage'],
    args: '<id>',
    summary: "Show a key's rate/token windows and budget",
    positionals: [1, 1],
    async run(ctx) {
      const usage = await ctx.client().request('GET', `/admin/keys/${keyId(ctx)}/usage`);
      ctx.print(ctx.json ? JSON.stringify(usage, null, 2) : usageView(usage));
    },
  },
  {
    path: ['keys', 'find'],
    summary: 'Find a key by its plaintext, or by the start/end characters shown in its display',
    description: 'The plaintext goes in the request body, never in the URL. Use --key - to read it from stdin (keeps it out of shell history).',
    options: {
      key: { type: 'string', arg: '<plaintext|->', help: 'the full key, or - to read it from stdin' },
      start: { type: 'string', arg: '<4 chars>', help: 'the 4 characters after the prefix in the display' },
      end: { type: 'string', arg: '<4 chars>', help: 'the 4 characters before the … in the display' },
    },
    positionals: [0, 0],
    examples: ['keygate keys find --start Oz5n --end 92yM', 'pbpaste | keygate keys find --key -'],
    async run(ctx) {
      const v = ctx.values;
      if (v.key !== undefined && (v.start !== undefined || v.end !== undefined)) throw new UsageError('give --key, or --start and/or --end, not both');
      if (v.key === undefined && v.start === undefined && v.end === undefined) throw new UsageError('give --key <plaintext>, or --start and/or --end');
      /** @type {Record<string, string>} */
      const body = {};
      if (v.key !== undefined) body.key = await fromStdin(v.key);
      if (v.start !== undefined) body.start = v.start;
      if (v.end !== undefined) body.end = v.end;
      const out = await ctx.client().request('POST', '/admin/keys/find', { body });
      if (ctx.json) return printJson(ctx, out);
      ctx.print(out.keys.length ? keysTable(out.keys) : 'no matching keys');
    },
  },
  {
    path: ['keys', 'verify'],
    args: '<plaintext|->',
    summary: 'Check a key as the gateway would (exit 0 when valid, 1 when not)',
    description: 'IP and referer rules are not checked (there is no client request). Pass - to read the key from stdin.',
    options: {
      scope: { type: 'string', multiple: true, arg: '<scope>', help: 'scopes the key must have; repeat or comma-separate' },
      consume: { type: 'boolean', help: 'count this check as one request against the rate limits' },
    },
    positionals: [1, 1],
    examples: ['keygate keys verify "$KEY" --scope read', 'echo "$KEY" | keygate keys verify - --json'],
    async run(ctx) {
      const plaintext = await fromStdin(/** @type {string} */ (ctx.positionals[0]));
      /** @type {Record<string, unknown>} */
      const body = { key: plaintext };
      const scopes = listOf(ctx.values.scope);
      if (scopes?.length) body.scopes = scopes;
      if (ctx.values.consume) body.consume = true;
      const out = await ctx.client().request('POST', '/admin/verify', { body });
      if (ctx.json) printJson(ctx, out);
      else {
        const parts = [kv([
          ['valid', out.valid ? 'yes' : 'no'],
          ['code', out.code],
        ])];
        if (out.key) parts.push(keyBlock(out.key));
        if (out.usage) parts.push(usageView(out.usage));
        ctx.print(parts.join('\n\n'));
      }
      if (!out.valid) {
        const reason = out.code === 'key_revoked' && out.key?.revoked_reason ? `the key was revoked: ${out.key.revoked_reason}` : 'the key is not valid';
        throw new ApiError(200, out.code, reason);
      }
    },
  },
  {
    path: ['keys', 'credits'],
    args: '<id>',
    summary: "Add to or set a key's live credit balance",
    options: {
      add: { type: 'string', arg: '<n>', help: 'credits to add (at least 1)' },
      set: { type: 'string', arg: '<n>', help: 'the new balance' },
    },
    positionals: [1, 1],
    examples: ['keygate keys credits key_01... --add 500', 'keygate keys credits key_01... --set 0'],
    async run(ctx) {
      const v = ctx.values;
      if ((v.add === undefined) === (v.set === undefined)) throw new UsageError('give --add <n> or --set <n>');
      const body = v.add !== undefined ? { add: positiveInt('--add', v.add) } : { set: Number(v.set) };
      if ('set' in body && (!Number.isSafeInteger(body.set) || body.set < 0)) throw new UsageError(`--set must be a whole number >= 0 (got "${v.set}")`);
      const out = await ctx.client().request('POST', `/admin/keys/${keyId(ctx)}/credits`, { body });
      ctx.print(ctx.json ? JSON.stringify(out, null, 2) : kv([['key', out.key_id], ['credits', String(out.remaining)], ['refills', out.refill_at ?? 'never']]));
    },
  },
  {
    path: ['owners', 'set'],
    args: '<owner>',
    summary: "Set an owner's shared limits, budget, model allowlist and concurrency cap (replaces the whole policy)",
    options: {
      rpm: FIELD_OPTIONS.rpm,
      rpd: FIELD_OPTIONS.rpd,
      tpm: FIELD_OPTIONS.tpm,
      tpd: FIELD_OPTIONS.tpd,
      'model-limits': FIELD_OPTIONS['model-limits'],
      'budget-usd': FIELD_OPTIONS['budget-usd'],
      'budget-period': FIELD_OPTIONS['budget-period'],
      model: FIELD_OPTIONS.model,
      'max-concurrent': FIELD_OPTIONS['max-concurrent'],
    },
    positionals: [1, 1],
    examples: ['keygate owners set team-search --rpm 600 --budget-usd 50 --budget-period month --max-concurrent 20'],
    async run(ctx) {
      const owner = /** @type {string} */ (ctx.positionals[0]);
      const out = await ctx.client().request('PUT', `/admin/owners/${encodeURIComponent(owner)}`, { body: await ownerBody(ctx.values) });
      ctx.print(ctx.json ? JSON.stringify(out, null, 2) : ownerBlock(out));
    },
  },
  {
    path: ['owners', 'get'],
    args: '<owner>',
    summary: "Show an owner's policy",
    positionals: [1, 1],
    async run(ctx) {
      const out = await ctx.client().request('GET', `/admin/owners/${encodeURIComponent(/** @type {string} */ (ctx.positionals[0]))}`);
      ctx.print(ctx.json ? JSON.stringify(out, null, 2) : ownerBlock(out));
    },
  },
  {
    path: ['owners', 'list'],
    summary: 'List owners with a policy, by name',
    options: { ...LIST_PAGING },
    positionals: [0, 0],
    async run(ctx) {
      const { cap, cursor } = listLimits(ctx);
      const { items, next } = await paginate(ctx, '/admin/owners', 'owners', {}, { cap, cursor, pageMax: 200 });
      if (ctx.json) return printJson(ctx, { owners: items, next_cursor: next });
      if (items.length === 0) return ctx.print('no owners');
      ctx.print(items.map(ownerBlock).join('\n\n'));
      if (next) ctx.print(dim(`\nmore with --cursor ${next} (or --all)`));
    },
  },
  {
    path: ['owners', 'delete'],
    args: '<owner>',
    summary: "Delete an owner's policy (its keys keep their own limits)",
    positionals: [1, 1],
    async run(ctx) {
      const out = await ctx.client().request('DELETE', `/admin/owners/${encodeURIComponent(/** @type {string} */ (ctx.positionals[0]))}`);
      ctx.print(ctx.json ? JSON.stringify(out, null, 2) : `deleted owner ${out.owner}`);
    },
  },
  {
    path: ['owners', 'usage'],
    args: '<owner>',
    summary: "Show an owner's shared windows and budget",
    positionals: [1, 1],
    async run(ctx) {
      const usage = await ctx.client().request('GET', `/admin/owners/${encodeURIComponent(/** @type {string} */ (ctx.positionals[0]))}/usage`);
      ctx.print(ctx.json ? JSON.stringify(usage, null, 2) : usageView(usage));
      },
    },
    {
    path: ['sign'],
    summary: 'Print a signed-request token (Authorization: JWT <token>) for a key/secret pair',
    description:
      'Signs an HS256 JWT with iss = the key id, iat, exp and a random jti, offline (no gateway is\n' +
      'contacted). Each token is accepted once. The secret may come from $KEYGATE_SIGNING_SECRET or\n' +
      'stdin ("--secret -") instead of the command line.',
    options: {
      'key-id': { type: 'string', arg: '<id>', help: 'the key id (iss)' },
      secret: { type: 'string', arg: '<secret>', help: 'the signing secret (default: $KEYGATE_SIGNING_SECRET; "-" reads stdin)' },
      ttl: { type: 'string', arg: '<seconds>', help: 'lifetime, 1-300 seconds (default 60)' },
    },
    positionals: [0, 0],
    examples: ['keygate sign --key-id key_01... --secret kgs_...', 'curl https://gw.example.com/api -H "authorization: JWT $(keygate sign --key-id key_01...)"'],
    async run(ctx) {
      const id = ctx.values['key-id'];
      if (typeof id !== 'string' || !KEY_ID_RE.test(id)) throw new UsageError('--key-id <id> is required (key_ followed by 26 characters)');
      const given = ctx.values.secret ?? process.env.KEYGATE_SIGNING_SECRET;
      if (typeof given !== 'string' || given === '') throw new UsageError('--secret <secret> (or $KEYGATE_SIGNING_SECRET) is required');
      const secret = await fromStdin(given);
      const ttl = ctx.values.ttl === undefined ? 60 : Number(ctx.values.ttl);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 300) throw new UsageError('--ttl must be a whole number of seconds from 1 to 300');
      const token = signedRequestToken(id, secret, ttl);
      ctx.print(ctx.json ? JSON.stringify({ token, authorization: `JWT ${token}` }, null, 2) : token);
    },
  },
  {
    path: ['audit'],
    summary: 'Show the admin audit log, newest first',
    options: {
      'key-id': { type: 'string', arg: '<id>', help: 'only entries for this key' },
      ...LIST_PAGING,
    },
    positionals: [0, 0],
    examples: ['keygate audit --key-id key_01...', 'keygate audit --all --json'],
    async run(ctx) {
      const { cap, cursor } = listLimits(ctx);
      const { items, next } = await paginate(ctx, '/admin/audit', 'entries', { key_id: ctx.values['key-id'] }, { cap, cursor, pageMax: 200 });
      if (ctx.json) return printJson(ctx, { entries: items, next_cursor: next });
      if (items.length === 0) return ctx.print('no audit entries');
      ctx.print(auditTable(items));
      if (next) ctx.print(dim(`\nmore with --cursor ${next} (or --all)`));
    },
  },
  ...LOG_COMMANDS,
];

/**
 * An HS256 JWT for a signed request, with node:crypto (the CLI has no dependencies).
 * @param {string} keyId @param {string} secret @param {number} ttl seconds
 */
export function signedRequestToken(keyId, secret, ttl, now = Date.now()) {
  const b64 = (/** @type {unknown} */ v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const iat = Math.floor(now / 1000);
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: keyId, iat, exp: iat + ttl, jti: randomUUID() })}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
