#!/usr/bin/env node
// keygate: manage keygate API keys from the command line, over the admin API.
//
//   keygate keys create|list|get|update|revoke|activate|deactivate|extend|rotate|delete|usage|find|verify
//   keygate audit
//   keygate sign --key-id <id> --secret <secret>   (offline: a signed-request token)
//
// Gateway URL and admin token come from KEYGATE_URL and KEYGATE_ADMIN_TOKEN, or --url and
// --token. Exit codes: 0 ok, 1 the gateway refused or could not be reached, 2 bad usage.
// Failures print exactly one line on stderr; --json prints raw API responses on stdout.
//
// Flags are parsed with node:util parseArgs (no dependency).

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AdminClient, checkToken, parseBaseUrl } from '../cli/client.mjs';
import { COMMANDS } from '../cli/commands.mjs';
import { ApiError, describeFailure, EXIT_OK, UsageError } from '../cli/errors.mjs';

/** @typedef {import('../cli/commands.mjs').Command} Command */
/** @typedef {import('../cli/commands.mjs').OptionSpec} OptionSpec */

const VERSION = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** @type {Record<string, OptionSpec>} */
const GLOBAL_OPTIONS = {
  url: { type: 'string', arg: '<url>', help: 'gateway base URL (default: $KEYGATE_URL)' },
  token: { type: 'string', arg: '<token>', help: 'admin token (default: $KEYGATE_ADMIN_TOKEN; prefer the variable, flags show up in ps)' },
  json: { type: 'boolean', help: 'print the raw JSON response (for scripts)' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};
const GLOBAL_VALUE_FLAGS = new Set(['--url', '--token']);

const GROUPS = { keys: 'Manage API keys', owners: 'Manage owners: limits, budgets and caps shared by all of their keys' };

// ---------------------------------------------------------------------------------------------
// Help.
// ---------------------------------------------------------------------------------------------

/** @param {Record<string, OptionSpec>} options */
function optionLines(options) {
  const rows = Object.entries(options).map(([name, o]) => [`${o.short ? `-${o.short}, ` : '    '}--${name}${o.arg ? ` ${o.arg}` : ''}`, `${o.help}${o.multiple ? ' [repeatable]' : ''}`]);
  const w = Math.max(...rows.map(([l]) => (l ?? '').length));
  return rows.map(([l, r]) => `  ${(l ?? '').padEnd(w)}  ${r}`).join('\n');
}

/** @param {Command} cmd */
function commandHelp(cmd) {
  const parts = [`Usage: keygate ${cmd.path.join(' ')}${cmd.args ? ` ${cmd.args}` : ''}${cmd.options ? ' [options]' : ''}`, '', cmd.summary + '.'];
  if (cmd.description) parts.push('', cmd.description);
  if (cmd.options) parts.push('', 'Options:', optionLines(cmd.options));
  parts.push('', 'Global options:', optionLines(GLOBAL_OPTIONS));
  if (cmd.examples?.length) parts.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  return parts.join('\n');
}

/** @param {string} group */
function groupHelp(group) {
  const cmds = COMMANDS.filter((c) => c.path[0] === group && c.path.length === 2);
  const rows = cmds.map((c) => [`${c.path[1]}${c.args ? ` ${c.args}` : ''}`, c.summary]);
  const w = Math.max(...rows.map(([l]) => (l ?? '').length));
  return [
    `Usage: keygate ${group} <command> [options]`,
    '',
    `${GROUPS[/** @type {keyof typeof GROUPS} */ (group)]}.`,
    '',
    'Commands:',
    ...rows.map(([l, r]) => `  ${(l ?? '').padEnd(w)}  ${r}`),
    '',
    `Run \`keygate ${group} <command> --help\` for a command's options.`,
  ].join('\n');
}

function mainHelp() {
  const rows = COMMANDS.map((c) => [`${c.path.join(' ')}${c.args ? ` ${c.args}` : ''}`, c.summary]);
  const w = Math.max(...rows.map(([l]) => (l ?? '').length));
  return [
    `keygate ${VERSION}: manage keygate API keys over the admin API.`,
    '',
    'Usage: keygate <command> [options]',
    '',
    'Commands:',
    ...rows.map(([l, r]) => `  ${(l ?? '').padEnd(w)}  ${r}`),
    '',
    'Global options:',
    optionLines({ ...GLOBAL_OPTIONS, version: { type: 'boolean', help: 'print the version' } }),
    '',
    'Environment:',
    '  KEYGATE_URL          gateway base URL, e.g. https://keygate.example.com',
    '  KEYGATE_ADMIN_TOKEN  the ADMIN_TOKEN secret, or a key with the admin scope',
    '',
    'Exit codes: 0 ok; 1 the gateway answered with an error or could not be reached; 2 bad usage.',
    'Errors are one line on stderr: `error: <code>: <message>`, where <code> is the gateway\'s',
    'error code, or usage_error, network_error or internal_error.',
    '',
    'Run `keygate <command> --help` for a command\'s options.',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Dispatch.
// ---------------------------------------------------------------------------------------------

/**
 * Separates the command words (e.g. `keys create`) from everything else, so that global
 * options may come before the command: `keygate --json keys list`.
 * @param {string[]} argv
 */
function splitCommand(argv) {
  /** @type {string[]} */
  const words = [];
  /** @type {string[]} */
  const rest = [];
  const depth = () => (Object.hasOwn(GROUPS, words[0] ?? '') ? 2 : words[0] === 'help' ? Infinity : 1);
  for (let i = 0; i < argv.length; i++) {
    const a = /** @type {string} */ (argv[i]);
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (words.length < depth() && !a.startsWith('-')) words.push(a);
    else {
      rest.push(a);
      if (words.length < depth() && GLOBAL_VALUE_FLAGS.has(a) && i + 1 < argv.length) rest.push(/** @type {string} */ (argv[++i]));
    }
  }
  return { words, rest };
}

/** @param {Record<string, OptionSpec>} specs */
function parseArgsOptions(specs) {
  /** @type {Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }>} */
  const out = {};
  for (const [name, s] of Object.entries(specs)) out[name] = { type: s.type, ...(s.multiple ? { multiple: true } : {}), ...(s.short ? { short: s.short } : {}) };
  return out;
}

/**
 * parseArgs errors in a few words, on one line.
 * @param {unknown} err
 */
function parseArgsMessage(err) {
  const e = /** @type {{ code?: string, message?: string }} */ (err);
  const message = String(e?.message ?? err);
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? 'option';
  if (e?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${flag}`;
  if (e?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/ambiguous/.test(message)) return `${flag} needs a value (for a value starting with "-", write ${flag}=-...)`;
    if (/does not take an argument/.test(message)) return `${flag} does not take a value`;
    return `${flag} needs a value`;
  }
  return message.split('\n')[0] ?? message;
}

/** @param {string} s */
const write = (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

/** Prints help or the version; exit 0. @param {string} s */
const say = (s) => (write(s), EXIT_OK);

/** @param {string[]} argv @returns {Promise<number>} */
async function main(argv) {
  const { words, rest } = splitCommand(argv);
  const wantsHelp = rest.slice(0, rest.includes('--') ? rest.indexOf('--') : undefined).some((a) => a === '--help' || a === '-h');

  if (words.length === 0) {
    if (rest.includes('--version')) return say(VERSION);
    if (rest.length === 0 || wantsHelp) return say(mainHelp());
    throw new UsageError(`unknown option ${rest[0]} (see keygate --help)`);
  }
  if (words[0] === 'help') {
    const target = words.slice(1);
    const cmd = COMMANDS.find((c) => c.path.join(' ') === target.join(' '));
    if (cmd) return say(commandHelp(cmd));
    if (target.length === 1 && target[0] && Object.hasOwn(GROUPS, target[0] ?? '')) return say(groupHelp(target[0]));
    if (target.length === 0) return say(mainHelp());
    throw new UsageError(`unknown command "${target.join(' ')}" (see keygate --help)`);
  }
  if (Object.hasOwn(GROUPS, words[0] ?? '') && words.length === 1) {
    if (wantsHelp || rest.length === 0) return say(groupHelp(words[0]));
    throw new UsageError(`missing command: keygate ${words[0]} <command> (see keygate ${words[0]} --help)`);
  }
  const cmd = COMMANDS.find((c) => c.path.join(' ') === words.join(' '));
  if (!cmd) {
    const group = Object.hasOwn(GROUPS, words[0] ?? '') ? ` ${words[0]}` : '';
    throw new UsageError(`unknown command "${words.join(' ')}" (see keygate${group} --help)`);
  }
  if (wantsHelp) return say(commandHelp(cmd));

  /** @type {{ values: Record<string, any>, positionals: string[] }} */
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: parseArgsOptions({ ...cmd.options, ...GLOBAL_OPTIONS }), allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${parseArgsMessage(err)} (see keygate ${cmd.path.join(' ')} --help)`);
  }
  const { values, positionals } = parsed;
  const [min, max] = cmd.positionals;
  if (positionals.length < min) throw new UsageError(`missing ${cmd.args ?? 'argument'}: keygate ${cmd.path.join(' ')} ${cmd.args ?? ''}`.trimEnd());
  if (positionals.length > max) throw new UsageError(`unexpected argument "${positionals[max]}" (see keygate ${cmd.path.join(' ')} --help)`);

  /** @type {AdminClient | undefined} */
  let client;
  const getClient = () => {
    if (client) return client;
    const rawUrl = values.url ?? process.env.KEYGATE_URL;
    const token = values.token ?? process.env.KEYGATE_ADMIN_TOKEN;
    if (!rawUrl) throw new UsageError('no gateway URL: set KEYGATE_URL or pass --url');
    if (!token) throw new UsageError('no admin token: set KEYGATE_ADMIN_TOKEN or pass --token');
    checkToken(token);
    client = new AdminClient({ url: parseBaseUrl(rawUrl), token, userAgent: `keygate-cli/${VERSION}` });
    return client;
  };

  await cmd.run({
    values,
    positionals,
    json: Boolean(values.json),
    client: getClient,
    print: write,
    note: (s) => process.stderr.write(`${s}\n`),
  });
  return EXIT_OK;
}

/**
 * Removes the admin token from anything printed, whatever its origin.
 * @param {string} line
 */
function scrub(line) {
  const secrets = [process.env.KEYGATE_ADMIN_TOKEN];
  const i = process.argv.indexOf('--token');
  if (i >= 0) secrets.push(process.argv[i + 1]);
  for (const a of process.argv) if (a.startsWith('--token=')) secrets.push(a.slice('--token='.length));
  for (const s of secrets) if (s && s.length >= 4) line = line.split(s).join('***');
  return line;
}

// `keygate keys list | head -1`: a closed pipe is not an error.
process.stdout.on('error', (err) => {
  if (/** @type {NodeJS.ErrnoException} */ (err).code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  const json = process.argv.includes('--json');
  if (json && err instanceof ApiError && err.body !== undefined) process.stdout.write(`${JSON.stringify(err.body, null, 2)}\n`);
  const { line, exitCode } = describeFailure(err);
  process.stderr.write(`${scrub(line.replace(/\s*[\r\n]+\s*/g, ' '))}\n`);
  if (process.env.KEYGATE_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${scrub(err.stack)}\n`);
  process.exitCode = exitCode;
}
