// `npm run deploy`: keygate on your Cloudflare account in one command.
//
//   npm run deploy [-- --dry-run] [--allow-test-prefix] [--config <wrangler.toml>] [--env <name>]
//
//   1. checks the configuration, offline: the Worker's own zod schema (as `npm run check`),
//      no route upstream on this machine (127.0.0.1, localhost: the demo routes of
//      `npm run dev`), no `kg_test` key prefix unless --allow-test-prefix;
//   2. --dry-run stops after `wrangler deploy --dry-run` (bundles the Worker, no account);
//   3. checks that every upstream_auth secret is set on the Worker (`wrangler secret list`);
//   4. applies the D1 migrations (`wrangler d1 migrations apply --remote`), creates the queues
//      the config names (`wrangler deploy` does not) and deploys (`wrangler deploy` creates and
//      links the KV namespace and D1 database the first time); migrations run first when the
//      database already exists, so new code never meets an old schema, and right after the
//      first deploy otherwise;
//   5. generates SECRETS_MASTER_KEY and IDENTITY_SIGNING_KEY when missing (never printed,
//      never replaced);
//   6. sets ADMIN_TOKEN when the Worker has none (generated, printed once). Under CI (CI or
//      WORKERS_CI set) it only says so: a token printed there would stay in the build log;
//   7. prints the Worker's URL and the next curl to run.
//
// Exit 0 on success, 1 when a check or a wrangler step fails, 2 on bad arguments.
// Every wrangler call goes through one runner, so test/cli/deploy.e2e.mjs can replace it and
// assert the sequence of invocations without an account or a network.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { configWarnings, isTable, loadConfigModule } from './check-config.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER_BIN = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const TEST_PREFIX = 'kg_test';
const USAGE = 'usage: npm run deploy -- [--dry-run] [--allow-test-prefix] [--config <wrangler.toml>] [--env <name>]';

/**
 * @typedef {{ code: number, stdout: string, stderr: string }} WranglerResult
 * @typedef {(args: string[], opts?: { input?: string, show?: boolean }) => Promise<WranglerResult>} WranglerRunner
 *   `show` streams wrangler's output to the terminal as well (long steps the user should see).
 * @typedef {{ out: (s: string) => void, err: (s: string) => void }} Output
 */

/** True when an upstream URL names this machine: a deployed Worker can never reach it. */
export function isLocalUpstream(/** @type {string} */ url) {
  let host;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127(?:\.\d{1,3}){3}$/.test(host) ||
    host === '0.0.0.0' ||
    host === '::1' ||
    host === '::' ||
    /^::ffff:127\./.test(host) ||
    /^::ffff:7f[0-9a-f]{2}:/.test(host)
  );
}

/**
 * The offline checks. Returns the problems (empty when deployable) and the parsed routes.
 * @param {{ vars: Record<string, unknown>, allowTestPrefix: boolean }} input
 * @returns {Promise<{ problems: string[], secrets: string[], warnings: string[] }>}
 */
export async function checkDeployConfig({ vars, allowTestPrefix }) {
  const { parseConfig } = await loadConfigModule();
  const result = parseConfig(vars);
  if (!result.ok) return { problems: [`config_invalid: ${result.message}`], secrets: [], warnings: [] };
  /** @type {string[]} */
  const problems = [];
  /** @type {string[]} */
  const secrets = [];
  /** @type {string[]} */
  const warnings = configWarnings(/** @type {any} */ (result.config));
  const config = /** @type {{ ROUTES: readonly { path: string, upstream: string, upstream_auth?: { secret: string } }[], prefixes: ReadonlySet<string> }} */ (
    /** @type {unknown} */ (result.config)
  );
  for (const route of config.ROUTES) {
    if (isLocalUpstream(route.upstream)) {
      problems.push(
        `route ${route.path}: upstream ${route.upstream} is on this machine (the demo upstream of \`npm run dev\`); ` +
          'a deployed Worker cannot reach it. Point the route at your API or remove it from [vars].',
      );
    }
    if (route.upstream_auth && !secrets.includes(route.upstream_auth.secret)) secrets.push(route.upstream_auth.secret);
  }
  if (config.prefixes.has(TEST_PREFIX) && !allowTestPrefix) {
    problems.push(
      `KEY_PREFIX/KEY_PREFIXES include "${TEST_PREFIX}": a production gateway would accept and issue test keys. ` +
        'Remove it from [vars], or pass --allow-test-prefix to deploy it on purpose.',
    );
  }
  return { problems, secrets, warnings };
}

/**
 * The Worker's public URL from `wrangler deploy` output: workers.dev first, then a custom
 * domain, then the first route pattern.
 * @param {string} output
 * @returns {string | undefined}
 */
export function deployedUrl(output) {
  const dev = /https:\/\/[a-z0-9.-]+\.workers\.dev\b/i.exec(output);
  if (dev) return dev[0];
  const domain = /^\s*([a-z0-9.-]+\.[a-z]{2,})\s+\(custom domain\)/im.exec(output);
  if (domain) return `https://${domain[1]}`;
  const route = /^\s*([a-z0-9.-]+\.[a-z]{2,})(\/[^\s]*)?\s+\(zone (?:name|id):/im.exec(output);
  if (route) return `https://${route[1]}`;
  return undefined;
}

/** Spawns the project's own wrangler (pinned in package-lock.json). @type {WranglerRunner} */
export function spawnWrangler(args, opts = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
      cwd: ROOT,
      // CI=1: wrangler never prompts (d1 migrations apply asks for confirmation otherwise).
      env: { ...process.env, CI: process.env.CI || '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (opts.show) process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (opts.show) process.stderr.write(d);
    });
    child.once('error', (e) => resolvePromise({ code: 1, stdout, stderr: `${stderr}could not run wrangler: ${e.message}\n` }));
    child.once('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** The last meaningful line of wrangler's output, for an error message. @param {WranglerResult} r */
function lastWords(r) {
  const lines = `${r.stderr}\n${r.stdout}`
    .split('\n')
    .map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim())
    .filter((l) => l && !/^[─⛅️\s-]+$/.test(l) && !/wrangler \d/.test(l));
  const err = lines.find((l) => /^✘|\[ERROR\]/.test(l));
  return (err ?? lines.at(-1) ?? `exit code ${r.code}`).replace(/^✘\s*\[ERROR\]\s*/, '');
}

/**
 * Runs the whole deployment. Returns the exit code.
 * @param {{ argv: string[], wrangler?: WranglerRunner, output?: Output, token?: () => string, ci?: boolean }} opts
 */
export async function deploy({
  argv,
  wrangler = spawnWrangler,
  output,
  token = () => randomBytes(32).toString('base64url'),
  ci = Boolean(process.env.CI || process.env.WORKERS_CI),
}) {
  const out = output?.out ?? ((s) => process.stdout.write(`${s}\n`));
  const err = output?.err ?? ((s) => process.stderr.write(`${s}\n`));
  const fail = (/** @type {string} */ m) => (err(`deploy: ${m}`), 1);

  /** @type {{ 'dry-run'?: boolean, 'allow-test-prefix'?: boolean, config?: string, env?: string }} */
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { 'dry-run': { type: 'boolean' }, 'allow-test-prefix': { type: 'boolean' }, config: { type: 'string' }, env: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    err(`deploy: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const configPath = resolve(values.config ?? join(ROOT, 'wrangler.toml'));
  const shown = relative(process.cwd(), configPath) || configPath;
  const envArgs = values.env ? ['--env', values.env] : [];
  const configArgs = ['--config', configPath, ...envArgs];

  // 1. Offline checks.
  /** @type {Record<string, unknown>} */
  let toml;
  try {
    toml = parseToml(readFileSync(configPath, 'utf8'));
  } catch (e) {
    err(`deploy: cannot read ${shown}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    return 2;
  }
  let scope = toml;
  if (values.env !== undefined) {
    const selected = isTable(toml.env) ? toml.env[values.env] : undefined;
    if (!isTable(selected)) {
      err(`deploy: ${shown} has no [env.${values.env}]`);
      return 2;
    }
    scope = selected;
  }
  const vars = isTable(scope.vars) ? scope.vars : {};
  const { problems, secrets: routeSecrets, warnings } = await checkDeployConfig({ vars, allowTestPrefix: Boolean(values['allow-test-prefix']) });
  for (const w of warnings) err(`deploy: warning: ${w}`);
  if (problems.length) {
    for (const p of problems) err(`deploy: ${p}`);
    err(`deploy: nothing was deployed; fix ${shown} and run again.`);
    return 1;
  }
  out(`deploy: configuration ok (${shown}${values.env ? `, env ${values.env}` : ''})`);

  // 2. Dry run: bundle exactly as `wrangler deploy` would, without an account.
  if (values['dry-run']) {
    const outdir = mkdtempSync(join(tmpdir(), 'keygate-deploy-'));
    try {
      const r = await wrangler(['deploy', '--dry-run', '--outdir', outdir, ...configArgs]);
      if (r.code !== 0) return fail(`\`wrangler deploy --dry-run\` failed: ${lastWords(r)}`);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
    out('deploy: dry run ok: the Worker bundles. Without --dry-run this would check the Worker\'s secrets,');
    out('        apply the D1 migrations, run `wrangler deploy` and set ADMIN_TOKEN if the Worker has none.');
    return 0;
  }

  // 3. Secrets already on the Worker. A Worker that does not exist yet has none.
  const listed = await wrangler(['secret', 'list', '--format', 'json', ...configArgs]);
  /** @type {Set<string>} */
  let present;
  if (listed.code === 0) {
    try {
      const parsed = JSON.parse(listed.stdout.slice(listed.stdout.indexOf('[')));
      present = new Set(Array.isArray(parsed) ? parsed.map((s) => String(s?.name)) : []);
    } catch {
      return fail(`could not read the output of \`wrangler secret list\`: ${lastWords(listed)}`);
    }
  } else if (/not found|does not exist/i.test(`${listed.stderr}${listed.stdout}`)) {
    present = new Set();
  } else {
    return fail(`\`wrangler secret list\` failed: ${lastWords(listed)} (logged in? \`npx wrangler login\`, or set CLOUDFLARE_API_TOKEN)`);
  }
  const missing = routeSecrets.filter((s) => !present.has(s));
  if (missing.length) {
    for (const s of missing) err(`deploy: secret ${s} (a route's upstream_auth.secret) is not set on the Worker: run \`npx wrangler secret put ${s}${values.env ? ` --env ${values.env}` : ''}\``);
    err('deploy: nothing was deployed.');
    return 1;
  }
  if (present.has('UPSTASH_REDIS_REST_URL') !== present.has('UPSTASH_REDIS_REST_TOKEN')) {
    err('deploy: warning: only one of UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN is set; keygate uses the Durable Object store until both are.');
  }

  // 4. Migrations and deploy.
  const d1 = d1Binding(scope, toml);
  const migrate = async (/** @type {string | undefined} */ databaseId) => {
    if (!d1) return 0;
    let args = ['d1', 'migrations', 'apply', d1.binding, '--remote', ...configArgs];
    /** @type {string | undefined} */
    let tmp;
    if (!d1.database_id) {
      // wrangler's d1 commands need the id in the config; deploy provisioned the database by
      // name and (non-interactive) did not write the id back, so hand wrangler a copy with it.
      if (!databaseId) return fail(`the D1 database "${d1.database_name}" was not found after deploying; run \`npx wrangler d1 list\``);
      tmp = mkdtempSync(join(tmpdir(), 'keygate-migrate-'));
      const cfg = {
        name: String(scope.name ?? toml.name ?? 'keygate'),
        ...(toml.account_id ? { account_id: toml.account_id } : {}),
        d1_databases: [{ ...d1, database_id: databaseId, migrations_dir: resolve(dirname(configPath), String(d1.migrations_dir ?? 'migrations')) }],
      };
      writeFileSync(join(tmp, 'wrangler.json'), JSON.stringify(cfg, null, 2));
      args = ['d1', 'migrations', 'apply', d1.binding, '--remote', '--config', join(tmp, 'wrangler.json')];
    }
    out(`deploy: applying D1 migrations to "${d1.database_name}" (remote) ...`);
    try {
      const r = await wrangler(args, { show: true });
      return r.code === 0 ? 0 : fail(`\`wrangler d1 migrations apply --remote\` failed: ${lastWords(r)}`);
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  };
  const findDatabase = async () => {
    if (!d1 || d1.database_id) return { ok: true, id: d1?.database_id };
    const r = await wrangler(['d1', 'list', '--json', ...configArgs]);
    if (r.code !== 0) return { ok: false, id: undefined, why: lastWords(r) };
    try {
      const list = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
      const db = Array.isArray(list) ? list.find((d) => d?.name === d1.database_name) : undefined;
      return { ok: true, id: db?.uuid ? String(db.uuid) : undefined };
    } catch {
      return { ok: false, id: undefined, why: 'unreadable output' };
    }
  };

  const before = await findDatabase();
  if (!before.ok) return fail(`\`wrangler d1 list\` failed: ${before.why}`);
  const existed = before.id !== undefined;
  if (existed && (await migrate(before.id)) !== 0) return 1;

  // Queues are not provisioned by `wrangler deploy`: create the ones the config names
  // (events and their dead-letter queue); one that exists already is fine.
  for (const name of queueNames(scope)) {
    const r = await wrangler(['queues', 'create', name, ...configArgs]);
    if (r.code === 0) out(`deploy: created queue ${name}`);
    else if (!/already (exists|taken)|is taken/i.test(`${r.stdout}\n${r.stderr}`)) return fail(`\`wrangler queues create ${name}\` failed: ${lastWords(r)}`);
  }

  out('deploy: running wrangler deploy ...');
  const deployed = await wrangler(['deploy', ...configArgs], { show: true });
  if (deployed.code !== 0) return fail(`\`wrangler deploy\` failed: ${lastWords(deployed)}`);

  if (!existed) {
    const after = await findDatabase();
    if (!after.ok) return fail(`\`wrangler d1 list\` failed: ${after.why}`);
    if ((await migrate(after.id)) !== 0) return 1;
  }

  // 5. Keys only the Worker uses, generated when missing and never printed: the master key
  // that encrypts signing secrets at rest, and the key that signs identity JWTs. An existing
  // one is never replaced (signing secrets sealed under it would no longer open).
  for (const [name, generate] of INTERNAL_SECRETS) {
    if (present.has(name)) continue;
    const r = await wrangler(['secret', 'put', name, ...configArgs], { input: generate() });
    if (r.code !== 0) return fail(`\`wrangler secret put ${name}\` failed: ${lastWords(r)}`);
    out(`deploy: generated ${name} and stored it as a Worker secret (not shown)`);
  }

  // 6. ADMIN_TOKEN.
  /** @type {string | undefined} */
  let newToken;
  const tokenMissing = !present.has('ADMIN_TOKEN');
  if (tokenMissing && !ci) {
    newToken = token();
    const r = await wrangler(['secret', 'put', 'ADMIN_TOKEN', ...configArgs], { input: newToken });
    if (r.code !== 0) return fail(`\`wrangler secret put ADMIN_TOKEN\` failed: ${lastWords(r)}; set it yourself with \`npx wrangler secret put ADMIN_TOKEN\``);
  }

  // 7. Where it is and what to run next.
  const url = deployedUrl(`${deployed.stdout}\n${deployed.stderr}`);
  out('');
  out(url ? `keygate is deployed: ${url}` : 'keygate is deployed, but wrangler printed no URL (workers_dev off and no routes?): see the output above.');
  if (newToken) {
    out('');
    out('ADMIN_TOKEN was not set, so one was generated and stored as a Worker secret.');
    out('It is shown only this once: keep it in your password manager.');
    out('');
    out(`  ADMIN_TOKEN=${newToken}`);
  } else if (tokenMissing) {
    err('deploy: warning: the Worker has no ADMIN_TOKEN, so only admin-scoped keys can use /admin (none exist yet).');
    err('deploy: this looks like CI, where a generated token would stay in the build log: set one yourself with');
    err(`deploy:   openssl rand -base64 32 | npx wrangler secret put ADMIN_TOKEN${values.env ? ` --env ${values.env}` : ''}`);
  } else {
    out('ADMIN_TOKEN is already set on the Worker (unchanged).');
  }
  out('');
  out('Create your first key (with ADMIN_TOKEN set in your shell):');
  out('');
  out(
    `  curl -s -X POST ${url ?? 'https://<your worker>'}/admin/keys -H "authorization: Bearer $ADMIN_TOKEN" ` +
      `-H 'content-type: application/json' -d '{"name":"first","owner":"me"}'`,
  );
  return 0;
}

/** @type {[string, () => string][]} secrets the Worker generates for itself, as `npm run dev` does */
const INTERNAL_SECRETS = [
  ['SECRETS_MASTER_KEY', () => randomBytes(32).toString('base64')],
  [
    'IDENTITY_SIGNING_KEY',
    () => {
      const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
      return JSON.stringify({ ...jwk, kid: `kg-${randomBytes(6).toString('hex')}`, alg: 'EdDSA' });
    },
  ],
];

/**
 * Every queue the config names (producers, consumers, dead-letter queues).
 * @param {Record<string, unknown>} scope
 * @returns {string[]}
 */
function queueNames(scope) {
  const queues = isTable(scope.queues) ? scope.queues : {};
  /** @type {Set<string>} */
  const names = new Set();
  for (const list of [queues.producers, queues.consumers]) {
    if (!Array.isArray(list)) continue;
    for (const q of list) {
      if (!isTable(q)) continue;
      if (typeof q.queue === 'string') names.add(q.queue);
      if (typeof q.dead_letter_queue === 'string') names.add(q.dead_letter_queue);
    }
  }
  return [...names];
}

/**
 * The [[d1_databases]] entry bound as DB, from the environment when it has its own list.
 * @param {Record<string, unknown>} scope
 * @param {Record<string, unknown>} toml
 * @returns {{ binding: string, database_name?: string, database_id?: string, migrations_dir?: string } | undefined}
 */
function d1Binding(scope, toml) {
  const list = Array.isArray(scope.d1_databases) ? scope.d1_databases : Array.isArray(toml.d1_databases) ? toml.d1_databases : [];
  const db = list.find((d) => isTable(d) && d.binding === 'DB');
  return db ? /** @type {any} */ (db) : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await deploy({ argv: process.argv.slice(2) });
}
