// `npm run deploy` (scripts/deploy.mjs): the offline checks run for real (the Worker's own
// zod schema, real `wrangler deploy --dry-run`); the steps that need a Cloudflare account run
// against a recording wrangler runner, so the sequence of wrangler invocations is asserted
// without an account or a network.
//
//   node --test test/cli/deploy.e2e.mjs        (or: npm run test:cli)

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { deploy, deployedUrl, isLocalUpstream } from '../../scripts/deploy.mjs';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const FIXTURES = join(ROOT, 'test', 'cli', 'fixtures');
const DEPLOYABLE = join(FIXTURES, 'deployable.toml');
const WORKERS_DEV = 'https://keygate.example-team.workers.dev';
const DB_ID = '3f0c9a8e-5b1d-4c6a-9f2e-7d8b1a2c3e4f';

/** Runs scripts/deploy.mjs as a user would. @param {string[]} args */
function runScript(args) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false' };
    // The dry run must need no account: make sure none is configured.
    delete env.CLOUDFLARE_API_TOKEN;
    delete env.CLOUDFLARE_ACCOUNT_ID;
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'deploy.mjs'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs `fn` with a config file beside the fixtures (so its relative paths resolve), removed afterwards.
 * @template T @param {string} text @param {(path: string) => Promise<T>} fn
 */
async function withConfig(text, fn) {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-deploy-test-'));
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, text.replaceAll('"../../../', `"${ROOT}/`));
  try {
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A wrangler stand-in: answers each invocation from `answers` (first matching prefix) and
 * records the argument lists.
 * @param {Record<string, { code?: number, stdout?: string, stderr?: string } | (() => { code?: number, stdout?: string, stderr?: string })>} answers
 */
function fakeWrangler(answers) {
  /** @type {{ args: string[], input?: string }[]} */
  const calls = [];
  /** @type {import('../../scripts/deploy.mjs').WranglerRunner} */
  const run = async (args, opts = {}) => {
    calls.push({ args, input: opts.input });
    const key = Object.keys(answers).find((k) => args.join(' ').startsWith(k));
    // Creating the config's queues and the Worker's own keys succeeds unless a test says otherwise.
    const internalSecret = args[0] === 'secret' && args[1] === 'put' && (args[2] === 'SECRETS_MASTER_KEY' || args[2] === 'IDENTITY_SIGNING_KEY');
    const fallback = (args[0] === 'queues' && args[1] === 'create') || internalSecret ? {} : { code: 1, stderr: `unexpected wrangler call: ${args.join(' ')}` };
    const a = key === undefined ? fallback : answers[key];
    const r = typeof a === 'function' ? a() : a;
    return { code: r?.code ?? 0, stdout: r?.stdout ?? '', stderr: r?.stderr ?? '' };
  };
  /** The command words of each call: `secret list`, `d1 migrations apply`, `deploy --config`. */
  const commands = () => calls.map((c) => c.args.slice(0, c.args[0] === 'd1' && c.args[1] === 'migrations' ? 3 : 2).join(' '));
  return { run, calls, commands };
}

function captured() {
  const lines = { out: /** @type {string[]} */ ([]), err: /** @type {string[]} */ ([]) };
  return { lines, output: { out: (/** @type {string} */ s) => lines.out.push(s), err: (/** @type {string} */ s) => lines.err.push(s) } };
}

const deployOutput = `Uploaded keygate (3.1 sec)\nDeployed keygate triggers (1.2 sec)\n  ${WORKERS_DEV}\n  schedule: */5 * * * *\nCurrent Version ID: 1\n`;

test('the shipped wrangler.toml is refused: demo routes on 127.0.0.1 and the kg_test prefix', async () => {
  const r = await runScript(['--dry-run']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /route \/demo: upstream http:\/\/127\.0\.0\.1:8788 is on this machine/);
  assert.match(r.stderr, /route \/llm: upstream http:\/\/127\.0\.0\.1:8788 is on this machine/);
  assert.match(r.stderr, /include "kg_test".*--allow-test-prefix/);
  assert.match(r.stderr, /nothing was deployed/);
});

test('a dry run of a deployable config checks it and bundles the Worker with no account', async () => {
  const r = await runScript(['--dry-run', '--config', DEPLOYABLE]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /configuration ok/);
  assert.match(r.stdout, /dry run ok: the Worker bundles/);
});

test('an invalid config is refused with the same message as npm run check', async () => {
  const r = await withConfig(readFileSync(DEPLOYABLE, 'utf8').replace('period = "month"', 'period = "week"'), (path) => runScript(['--dry-run', '--config', path]));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config_invalid: ROUTES\[0\]\.budget\.period: /);
});

test('kg_test is deployed only with --allow-test-prefix', async () => {
  const text = readFileSync(DEPLOYABLE, 'utf8').replace('KEY_PREFIX = "kg_live"', 'KEY_PREFIX = "kg_live"\nKEY_PREFIXES = ["kg_live", "kg_test"]');
  await withConfig(text, async (path) => {
    const refused = fakeWrangler({});
    const a = captured();
    assert.equal(await deploy({ argv: ['--dry-run', '--config', path], wrangler: refused.run, output: a.output }), 1);
    assert.equal(refused.calls.length, 0, 'no wrangler call before the checks pass');
    assert.match(a.lines.err.join('\n'), /"kg_test"/);

    const allowed = fakeWrangler({ 'deploy --dry-run': {} });
    const b = captured();
    assert.equal(await deploy({ argv: ['--dry-run', '--allow-test-prefix', '--config', path], wrangler: allowed.run, output: b.output }), 0, b.lines.err.join('\n'));
    assert.deepEqual(allowed.commands(), ['deploy --dry-run']);
  });
});

test('every spelling of this machine counts as a local upstream', () => {
  for (const u of ['http://127.0.0.1:8788', 'http://127.5.6.7', 'http://localhost:3000', 'http://LOCALHOST.', 'http://api.localhost', 'http://[::1]:8080', 'http://0.0.0.0', 'http://[::ffff:127.0.0.1]'])
    assert.ok(isLocalUpstream(u), u);
  for (const u of ['https://api.openai.com', 'https://127.example.com', 'http://10.0.0.1', 'https://localhost.example.com'])
    assert.ok(!isLocalUpstream(u), u);
});

test('first deploy: checks secrets, deploys (creating KV and D1), migrates, sets a new ADMIN_TOKEN once, prints the URL and the next curl', async () => {
  let listed = 0;
  const w = fakeWrangler({
    'secret list': { stdout: JSON.stringify([{ name: 'OPENAI_API_KEY', type: 'secret_text' }]) },
    // Before the first deploy the database does not exist; deploy provisions it.
    'd1 list': () => ({ stdout: JSON.stringify(listed++ === 0 ? [] : [{ uuid: DB_ID, name: 'keygate' }]) }),
    'queues create keygate-events-dlq': { code: 1, stderr: 'A queue with name keygate-events-dlq already exists [code: 11009]' },
    'queues create keygate-events': {},
    deploy: { stdout: deployOutput },
    'd1 migrations apply DB --remote': {},
    'secret put SECRETS_MASTER_KEY': {},
    'secret put IDENTITY_SIGNING_KEY': {},
    'secret put ADMIN_TOKEN': {},
  });
  const o = captured();
  const code = await deploy({ argv: ['--config', DEPLOYABLE], wrangler: w.run, output: o.output, token: () => 'generated-admin-token-1234', ci: false });
  assert.equal(code, 0, o.lines.err.join('\n'));
  assert.deepEqual(w.commands(), ['secret list', 'd1 list', 'queues create', 'queues create', 'deploy --config', 'd1 list', 'd1 migrations apply', 'secret put', 'secret put', 'secret put']);
  // The Worker's own keys are generated once, sent on stdin and never printed.
  const internal = w.calls.filter((c) => c.args[1] === 'put' && c.args[2] !== 'ADMIN_TOKEN');
  assert.deepEqual(internal.map((c) => c.args[2]), ['SECRETS_MASTER_KEY', 'IDENTITY_SIGNING_KEY']);
  assert.equal(Buffer.from(internal[0]?.input ?? '', 'base64').length, 32);
  assert.equal(JSON.parse(internal[1]?.input ?? '{}').crv, 'Ed25519');
  for (const c of internal) assert.ok(!o.lines.out.join('\n').includes(c.input ?? '<none>'));
  // The event queue and its dead-letter queue are created (an existing one is fine).
  assert.deepEqual(w.calls.filter((c) => c.args[0] === 'queues').map((c) => c.args[2]).sort(), ['keygate-events', 'keygate-events-dlq']);

  // No database_id in the config: migrations get a config naming the database deploy created.
  const migrate = w.calls[6]?.args ?? [];
  const cfgPath = migrate[migrate.indexOf('--config') + 1];
  assert.ok(cfgPath && cfgPath.endsWith('wrangler.json'));
  assert.ok(migrate.includes('--remote'));
  // The token reaches wrangler on stdin, never as an argument.
  const put = w.calls[9];
  assert.equal(put?.input, 'generated-admin-token-1234');
  assert.ok(!put?.args.some((a) => a.includes('generated-admin-token')));

  const out = o.lines.out.join('\n');
  assert.equal(out.split('generated-admin-token-1234').length - 1, 1, 'the new token is printed exactly once');
  assert.match(out, new RegExp(`keygate is deployed: ${WORKERS_DEV.replaceAll('.', '\\.')}`));
  assert.match(out, new RegExp(`curl -s -X POST ${WORKERS_DEV.replaceAll('.', '\\.')}/admin/keys -H "authorization: Bearer \\$ADMIN_TOKEN"`));
});

test('redeploy: migrations run before the new code is deployed, and an existing ADMIN_TOKEN is left alone', async () => {
  const w = fakeWrangler({
    // A Worker deployed before: its own keys exist and are never replaced.
    'secret list': { stdout: JSON.stringify(['OPENAI_API_KEY', 'ADMIN_TOKEN', 'SECRETS_MASTER_KEY', 'IDENTITY_SIGNING_KEY'].map((name) => ({ name }))) },
    'd1 list': { stdout: JSON.stringify([{ uuid: DB_ID, name: 'keygate' }, { uuid: 'other', name: 'other' }]) },
    'd1 migrations apply DB --remote': {},
    'queues create': { code: 1, stderr: 'Queue name is already taken' },
    deploy: { stdout: deployOutput },
  });
  const o = captured();
  assert.equal(await deploy({ argv: ['--config', DEPLOYABLE], wrangler: w.run, output: o.output }), 0, o.lines.err.join('\n'));
  assert.deepEqual(w.commands(), ['secret list', 'd1 list', 'd1 migrations apply', 'queues create', 'queues create', 'deploy --config']);
  assert.match(o.lines.out.join('\n'), /ADMIN_TOKEN is already set/);
});

test('under CI a missing ADMIN_TOKEN is not generated (it would stay in the build log): the deploy says how to set one', async () => {
  const w = fakeWrangler({
    'secret list': { stdout: JSON.stringify([{ name: 'OPENAI_API_KEY' }]) },
    'd1 list': { stdout: JSON.stringify([{ uuid: DB_ID, name: 'keygate' }]) },
    'd1 migrations apply DB --remote': {},
    deploy: { stdout: deployOutput },
  });
  const o = captured();
  assert.equal(await deploy({ argv: ['--config', DEPLOYABLE], wrangler: w.run, output: o.output, token: () => 'must-not-appear', ci: true }), 0, o.lines.err.join('\n'));
  assert.deepEqual(w.commands(), ['secret list', 'd1 list', 'd1 migrations apply', 'queues create', 'queues create', 'deploy --config', 'secret put', 'secret put']);
  assert.ok(!`${o.lines.out.join('\n')}${o.lines.err.join('\n')}`.includes('must-not-appear'));
  assert.match(o.lines.err.join('\n'), /npx wrangler secret put ADMIN_TOKEN/);
});

test('a pinned database_id is used as is: no lookup, no temporary config', async () => {
  const text = readFileSync(DEPLOYABLE, 'utf8').replace('database_name = "keygate"', `database_name = "keygate"\ndatabase_id = "${DB_ID}"`);
  await withConfig(text, async (path) => {
    const w = fakeWrangler({
      'secret list': { stdout: JSON.stringify([{ name: 'OPENAI_API_KEY' }, { name: 'ADMIN_TOKEN' }]) },
      'd1 migrations apply DB --remote': {},
      deploy: { stdout: deployOutput },
    });
    const o = captured();
    assert.equal(await deploy({ argv: ['--config', path], wrangler: w.run, output: o.output }), 0, o.lines.err.join('\n'));
    assert.deepEqual(w.commands(), ['secret list', 'd1 migrations apply', 'queues create', 'queues create', 'deploy --config', 'secret put', 'secret put']);
    assert.deepEqual(w.calls[1]?.args, ['d1', 'migrations', 'apply', 'DB', '--remote', '--config', path]);
  });
});

test('a route whose upstream_auth secret is not set stops before anything is deployed', async () => {
  const w = fakeWrangler({ 'secret list': { code: 1, stderr: '✘ [ERROR] Worker "keygate" not found.\n' } });
  const o = captured();
  assert.equal(await deploy({ argv: ['--config', DEPLOYABLE], wrangler: w.run, output: o.output }), 1);
  assert.deepEqual(w.commands(), ['secret list']);
  assert.match(o.lines.err.join('\n'), /secret OPENAI_API_KEY .* is not set on the Worker: run `npx wrangler secret put OPENAI_API_KEY`/);
});

test('a failed wrangler deploy stops: no migrations on a new database, no token', async () => {
  const w = fakeWrangler({
    'secret list': { stdout: JSON.stringify([{ name: 'OPENAI_API_KEY' }]) },
    'd1 list': { stdout: '[]' },
    deploy: { code: 1, stderr: '✘ [ERROR] Authentication error [code: 10000]\n' },
  });
  const o = captured();
  assert.equal(await deploy({ argv: ['--config', DEPLOYABLE], wrangler: w.run, output: o.output }), 1);
  assert.deepEqual(w.commands(), ['secret list', 'd1 list', 'queues create', 'queues create', 'deploy --config']);
  assert.match(o.lines.err.join('\n'), /`wrangler deploy` failed: Authentication error/);
  assert.ok(!o.lines.out.join('\n').includes('ADMIN_TOKEN='));
});

test('not logged in: the first account call fails with a hint, nothing else runs', async () => {
  const w = fakeWrangler({ 'secret list': { code: 1, stderr: '✘ [ERROR] In a non-interactive environment, it\'s necessary to set a CLOUDFLARE_API_TOKEN environment variable\n' } });
  const o = captured();
  assert.equal(await deploy({ argv: ['--config', DEPLOYABLE], wrangler: w.run, output: o.output }), 1);
  assert.deepEqual(w.commands(), ['secret list']);
  assert.match(o.lines.err.join('\n'), /CLOUDFLARE_API_TOKEN/);
});

test('the URL comes from wrangler deploy output: workers.dev, else a custom domain, else a route', () => {
  assert.equal(deployedUrl(deployOutput), WORKERS_DEV);
  assert.equal(deployedUrl('Deployed keygate triggers\n  keygate.example.com (custom domain)\n'), 'https://keygate.example.com');
  assert.equal(deployedUrl('Deployed keygate triggers\n  api.example.com/* (zone name: example.com)\n'), 'https://api.example.com');
  assert.equal(deployedUrl('Deployed keygate triggers\n  schedule: */5 * * * *\n'), undefined);
});
