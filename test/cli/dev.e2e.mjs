// End-to-end test of `npm run dev` (scripts/dev.mjs) when one of its children dies: the script
// must stop the other one and exit with a message naming the dead child, so no half-running
// gateway is left answering 502 on the port.
//
//   node --test test/cli/dev.e2e.mjs        (part of: npm run test:cli)
//
// Runs dev.mjs on free ports (KEYGATE_DEV_PORT, KEYGATE_DEV_UPSTREAM_PORT) with its own state
// directory (KEYGATE_DEV_PERSIST_TO), never on 8787/8788, in its own process group so a failed
// test still cleans up everything it started.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness.mjs';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const READY_TIMEOUT_MS = 120_000;
const EXIT_TIMEOUT_MS = 30_000;

/** @type {import('node:child_process').ChildProcess[]} */
const started = [];
// dev.mjs writes an ADMIN_TOKEN into .dev.vars when there is none; take back one this test made
// (vitest would otherwise pick up its token).
const DEV_VARS = join(ROOT, '.dev.vars');
const hadDevVars = existsSync(DEV_VARS);
const stateDirs = /** @type {string[]} */ ([]);

after(() => {
  for (const child of started) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
  if (!hadDevVars) rmSync(DEV_VARS, { force: true });
});


/** Whether something accepts connections on the port. @param {number} port */
function listening(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

/** Starts dev.mjs and waits for its banner. */
async function startDev() {
  const gatewayPort = await freePort();
  const upstreamPort = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'keygate-dev-e2e-'));
  stateDirs.push(persist);
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'dev.mjs')], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      KEYGATE_DEV_PORT: String(gatewayPort),
      KEYGATE_DEV_UPSTREAM_PORT: String(upstreamPort),
      KEYGATE_DEV_PERSIST_TO: persist,
      CI: '1',
      WRANGLER_SEND_METRICS: 'false',
      NO_COLOR: '1',
    },
  });
  started.push(child);
  let log = '';
  child.stdout?.on('data', (c) => (log += c));
  child.stderr?.on('data', (c) => (log += c));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!log.includes('keygate is running') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 250));
  assert.match(log, /keygate is running/, `dev.mjs did not start:\n${log}`);
  return { child, gatewayPort, upstreamPort, exited: /** @type {Promise<{ code: number | null, signal: string | null }>} */ (exited), log: () => log };
}

/** The pid of dev.mjs's child whose command line contains `needle`. */
function childPid(/** @type {number} */ parent, /** @type {string} */ needle) {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent)], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(needle));
  assert.ok(line, `no child of ${parent} runs ${needle}:\n${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** @param {Promise<unknown>} p @param {string} what */
function withTimeout(p, what) {
  return Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} within ${EXIT_TIMEOUT_MS} ms`)), EXIT_TIMEOUT_MS).unref())]);
}

test('when the demo upstream dies, npm run dev stops wrangler dev and exits saying so', async () => {
  const dev = await startDev();
  // The upstream answers, HEAD on the path that once crashed it included.
  const head = await fetch(`http://127.0.0.1:${dev.upstreamPort}/hop-headers`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${dev.gatewayPort}/admin/keys`)).status, 401);

  process.kill(childPid(/** @type {number} */ (dev.child.pid), 'demo-upstream.mjs'), 'SIGKILL');
  const { code } = /** @type {{ code: number | null }} */ (await withTimeout(dev.exited, 'dev.mjs did not exit'));
  assert.equal(code, 1);
  assert.match(dev.log(), /\[dev\] the demo upstream was killed by SIGKILL; stopping gateway \(wrangler dev\) and exiting\./);
  assert.equal(await listening(dev.gatewayPort), false, 'wrangler dev still listens after dev.mjs exited');
});

test('when wrangler dev dies, npm run dev stops the demo upstream and exits saying so', async () => {
  const dev = await startDev();
  process.kill(childPid(/** @type {number} */ (dev.child.pid), 'wrangler'), 'SIGKILL');
  const { code } = /** @type {{ code: number | null }} */ (await withTimeout(dev.exited, 'dev.mjs did not exit'));
  assert.equal(code, 137);
  assert.match(dev.log(), /\[dev\] the gateway \(wrangler dev\) was killed by SIGKILL; stopping demo upstream and exiting\./);
  assert.equal(await listening(dev.upstreamPort), false, 'the demo upstream still listens after dev.mjs exited');
  // wrangler killed outright cannot stop its workerd; that one is left to the process group.
  process.kill(-(/** @type {number} */ (dev.child.pid)), 'SIGKILL');
});
