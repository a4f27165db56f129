// `npm run check` (first step): validates the [vars] of wrangler.toml with the same code the
// Worker runs. src/config/load.ts is bundled on the fly with esbuild and its parseConfig is
// called on the vars, so this check can never drift from what a deployed gateway accepts.
//
//   node scripts/check-config.mjs [--config <path/to/wrangler.toml>] [--env <name>]
//
// Exit 0 with a one-line summary when the config is valid (and a `warning: ...` line on stderr
// for each setting that parses but cannot take effect); exit 1 with
// `config_invalid: <message>` on stderr (the message the Worker puts after
// "Invalid configuration: "); exit 2 when the file cannot be read or the arguments are wrong.
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { parse as parseToml } from 'smol-toml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** @param {string} message */
function usageError(message) {
  console.error(`check-config: ${message}`);
  process.exit(2);
}

/** @returns {{ config: string, env: string | undefined }} */
function readArgs() {
  try {
    const { values } = parseArgs({
      options: { config: { type: 'string' }, env: { type: 'string' } },
      allowPositionals: false,
      strict: true,
    });
    return { config: resolve(values.config ?? resolve(root, 'wrangler.toml')), env: values.env };
  } catch (err) {
    return usageError(`${err instanceof Error ? err.message : String(err)}\nusage: node scripts/check-config.mjs [--config <wrangler.toml>] [--env <name>]`);
  }
}

/**
 * The Worker's own config loader, bundled (with zod) into one ESM module and imported.
 * scripts/deploy.mjs runs its checks through this too.
 * @returns {Promise<{ parseConfig: (vars: Record<string, unknown>) => { ok: true, config: { sortedRoutes: readonly { path: string }[], ROUTES: readonly { path: string, upstream: string }[] } } | { ok: false, message: string } }>}
 */
export async function loadConfigModule() {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [resolve(root, 'src/config/load.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text;
  if (code === undefined) throw new Error('esbuild produced no output for src/config/load.ts');
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

/** @param {unknown} v @returns {v is Record<string, unknown>} */
/**
 * Settings that parse but cannot work as meant: token limits (tpm/tpd, per route or per model)
 * on a route without `metering`, where keygate never learns a request's token count; and a
 * token limit below `metering.default_reservation`, the output tokens a request that sets no
 * maximum is admitted with (every request, with format "header"): such requests are refused.
 * @param {{ ROUTES: readonly { path: string, metering?: { format: string, default_reservation: number }, limits?: { tpm?: number, tpd?: number }, model_limits?: Record<string, { tpm?: number, tpd?: number }> }[] }} config
 * @returns {string[]}
 */
export function configWarnings(config) {
  /** @type {string[]} */
  const out = [];
  for (const r of config.ROUTES) {
    if (r.metering !== undefined) {
      const reservation = r.metering.default_reservation;
      /** @type {string[]} */
      const small = [];
      for (const f of /** @type {const} */ (['tpm', 'tpd'])) if ((r.limits?.[f] ?? Infinity) < reservation) small.push(`limits.${f} (${r.limits?.[f]})`);
      for (const [model, l] of Object.entries(r.model_limits ?? {})) {
        for (const f of /** @type {const} */ (['tpm', 'tpd'])) if ((l[f] ?? Infinity) < reservation) small.push(`model_limits."${model}".${f} (${l[f]})`);
      }
      const refused = r.metering.format === 'header' ? 'every request is refused' : 'a request that sets no output maximum (max_tokens) is refused';
      if (small.length) out.push(`route ${r.path}: ${small.join(', ')} below metering.default_reservation (${reservation}): ${refused}`);
      continue;
    }
    /** @type {string[]} */
    const unbound = [];
    for (const f of /** @type {const} */ (['tpm', 'tpd'])) if (r.limits?.[f] !== undefined) unbound.push(`limits.${f}`);
    for (const [model, l] of Object.entries(r.model_limits ?? {})) {
      for (const f of /** @type {const} */ (['tpm', 'tpd'])) if (l[f] !== undefined) unbound.push(`model_limits."${model}".${f}`);
    }
    if (unbound.length) out.push(`route ${r.path}: ${unbound.join(', ')} never bind${unbound.length === 1 ? 's' : ''}: token limits need \`metering\` on the route`);
  }
  return out;
}

export const isTable = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

async function main() {
  const args = readArgs();
  const rel = relative(process.cwd(), args.config);
  const shown = rel && !rel.startsWith('..') ? rel : args.config;

  let text;
  try {
    text = await readFile(args.config, 'utf8');
  } catch (err) {
    return usageError(`cannot read ${shown}: ${err instanceof Error ? err.message : String(err)}`);
  }
  /** @type {Record<string, unknown>} */
  let toml;
  try {
    toml = parseToml(text);
  } catch (err) {
    return usageError(`${shown} is not valid TOML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }

  // Wrangler does not inherit [vars] into [env.<name>]: an environment has only its own vars.
  let scope = toml;
  if (args.env !== undefined) {
    const envs = isTable(toml.env) ? toml.env : {};
    const selected = envs[args.env];
    if (!isTable(selected)) return usageError(`${shown} has no [env.${args.env}]`);
    scope = selected;
  }
  const vars = isTable(scope.vars) ? scope.vars : {};

  const { parseConfig } = await loadConfigModule();
  let result;
  try {
    result = parseConfig(vars);
  } catch (err) {
    // The Worker would answer 500 internal_error here: a validator bug, not a config message.
    console.error(`internal_error: parseConfig threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    process.exit(1);
  }
  if (!result.ok) {
    console.error(`config_invalid: ${result.message}`);
    process.exit(1);
  }
  for (const w of configWarnings(result.config)) console.error(`warning: ${w}`);
  const paths = result.config.ROUTES.map((r) => r.path);
  const n = paths.length;
  console.log(`config ok (${shown}${args.env ? `, env ${args.env}` : ''}): ${n} route${n === 1 ? '' : 's'}${n ? `: ${paths.join(', ')}` : ''}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
