// README.md's quickstart, run as written: every ```sh block of the "## Quickstart" section.
//
//   node --test test/cli/quickstart.e2e.mjs        (or: npm run test:cli)
//
// The first block is `npm ci && npm run dev`: the test runs `npm run dev` (the dependencies are
// installed already), on free ports instead of 8787/8788 so a developer's own `npm run dev` can
// keep running: `--port` for the gateway, KEYGATE_DEV_UPSTREAM_PORT for the demo upstream, and
// `--var ROUTES:<json>` for wrangler.toml's routes with their upstream moved to that port.
// The other blocks run in bash (`set -euo pipefail`) with the gateway URL replaced, from the
// repository root, exactly as a user pastes them into a second terminal. Like the user's, this
// `npm run dev` uses the clone's .dev.vars and .wrangler/state (the created key stays there).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { freePort, groupAlive, sleep } from './harness.mjs';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const README_URL = 'http://127.0.0.1:8787';
const README_UPSTREAM = 'http://127.0.0.1:8788';
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;

/** The ```sh blocks of the README's Quickstart section. */
function quickstartBlocks() {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Quickstart$/m)[1]?.split(/^## /m)[0] ?? '';
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => /** @type {string} */ (m[1]));
}




/** @type {import('node:child_process').ChildProcess | undefined} */
let dev;
let devLog = '';
let gatewayUrl = '';
const blocks = quickstartBlocks();

before(async () => {
  assert.equal(blocks[0]?.trim(), 'npm ci && npm run dev', 'the quickstart starts with `npm ci && npm run dev`');
  const [port, upstreamPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
  gatewayUrl = `http://127.0.0.1:${port}`;
  const toml = /** @type {{ vars: { ROUTES: { upstream: string }[] } }} */ (/** @type {unknown} */ (parseToml(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'))));
  const routes = toml.vars.ROUTES.map((r) => ({ ...r, upstream: r.upstream.replace(README_UPSTREAM, `http://127.0.0.1:${upstreamPort}`) }));
  const args = ['run', 'dev', '--', '--port', String(port), '--inspector-port', String(inspectorPort), '--var', `ROUTES:${JSON.stringify(routes)}`, '--show-interactive-dev-session=false'];
  // detached: npm leads its own process group, so dev, wrangler and workerd stop together.
  dev = spawn('npm', args, {
    cwd: ROOT,
    env: { ...process.env, KEYGATE_DEV_UPSTREAM_PORT: String(upstreamPort), CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pgid = /** @type {number} */ (dev.pid);
  process.once('exit', () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  /** @param {Buffer} d */
  const keep = (d) => (devLog = (devLog + d).slice(-20_000));
  dev.stdout?.on('data', keep);
  dev.stderr?.on('data', keep);

  const started = Date.now();
  for (;;) {
    if (dev.exitCode !== null) throw new Error(`npm run dev exited with ${dev.exitCode}:\n${devLog}`);
    if (Date.now() - started > READY_TIMEOUT_MS) throw new Error(`npm run dev not ready after ${READY_TIMEOUT_MS / 1000}s:\n${devLog}`);
    // The banner is printed once the gateway answers.
    if (devLog.includes(`keygate is running: ${gatewayUrl}`)) break;
    await sleep(250);
  }
});

after(async () => {
  const child = dev;
  if (!child?.pid) return;
  const pgid = child.pid;
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    // already gone
  }
  for (let i = 0; i < STOP_TIMEOUT_MS / 250 && groupAlive(pgid); i++) await sleep(250);
  if (groupAlive(pgid)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
});

const CUT = '--8<-- quickstart step --8<--';

/**
 * Runs a README block in bash from the repository root, against the test's gateway. The
 * block's blank-line-separated steps print a cut line after them (curl output has no final
 * newline), so each step's output can be checked on its own.
 * @param {string} block
 * @returns {Promise<{ code: number | null, steps: string[], stdout: string, stderr: string }>}
 */
function runBlock(block) {
  const steps = block.replaceAll(README_URL, gatewayUrl).trim().split(/\n\s*\n/);
  const script = `set -euo pipefail\n${steps.map((st) => `${st}\necho; echo '${CUT}'`).join('\n')}\n`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, steps: stdout.split(`${CUT}\n`), stdout, stderr }));
  });
}

test('the quickstart has the dev block and the curl block, and npm run dev printed its banner', () => {
  assert.equal(blocks.length, 2, `quickstart blocks: ${blocks.length}`);
  assert.match(devLog, /admin token/);
});

test('the quickstart curl block runs as written and shows what its comments promise', async () => {
  const block = /** @type {string} */ (blocks[1]);
  const r = await runBlock(block);
  assert.equal(r.code, 0, `the block failed:\n${r.stdout}\n${r.stderr}\n--- npm run dev ---\n${devLog}`);
  const [create = '', demo = '', llm = '', usageOut = ''] = r.steps;

  // Create: the record and the plaintext, once.
  const created = JSON.parse(create);
  assert.match(created.id, /^key_/);
  assert.match(created.key, /^kg_live_/);
  assert.equal(r.stdout.split(created.key).length - 1, 1, 'the plaintext appears only in the create response');

  // /demo/hello: the upstream's echo, with the identity headers and without the credential.
  const echo = JSON.parse(demo);
  assert.equal(echo.path, '/hello');
  assert.equal(echo.headers.authorization, undefined);
  assert.equal(echo.headers['x-gateway-key-id'], created.id);
  assert.equal(echo.headers['x-gateway-owner'], 'me');

  // /llm: 200 with the limit headers the comment names.
  assert.match(llm, /^HTTP\/1\.1 200/);
  for (const h of ['x-ratelimit-remaining-tokens', 'ratelimit', 'server-timing']) assert.match(llm, new RegExp(`^${h}:`, 'im'), `${h} header`);

  // /_keygate/usage: the key's windows and budget.
  const usage = JSON.stringify(JSON.parse(usageOut));
  assert.match(usage, /"remaining"/);
  assert.match(usage, /"budget"/);
});
