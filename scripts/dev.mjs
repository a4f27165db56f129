// `npm run dev`: keygate on your machine, from a fresh clone, in one command.
//
//   1. applies the D1 migrations to the local database (.wrangler/state),
//   2. makes sure .dev.vars holds an ADMIN_TOKEN (generates one on first run) and prints it,
//   3. starts the demo upstream (scripts/demo-upstream.mjs, a child process) on
//      http://127.0.0.1:8788 (the /demo and /llm routes in wrangler.toml point there),
//   4. runs `wrangler dev --ip 127.0.0.1 --port 8787` with any extra arguments passed on
//      (e.g. `node scripts/dev.mjs --var NAME:value`, as scripts/dev-upstash.mjs does),
//   5. prints a banner with the admin token and two curl commands once the gateway answers.
//
// Ctrl-C / SIGTERM stops wrangler and the upstream; the exit code is wrangler's. When either
// child dies on its own, the script stops the other and exits 1 saying which one died: a
// gateway left running without its upstream answers every proxied request with 502.
//
// Environment (for running a second copy, e.g. the test of this script; the routes in
// wrangler.toml still point at 8788):
//   KEYGATE_DEV_PORT           gateway port (default 8787)
//   KEYGATE_DEV_UPSTREAM_PORT  demo upstream port (default 8788)
//   KEYGATE_DEV_PERSIST_TO     local state directory for migrations and wrangler dev
//                              (default: wrangler's own, .wrangler/state)
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const HOST = '127.0.0.1';
/**
 * @param {string} name
 * @param {number} fallback
 */
function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    console.error(`\n[dev] error: ${name} must be a port number (1-65535), not ${JSON.stringify(raw)}\n`);
    process.exit(1);
  }
  return Number(raw);
}
const GATEWAY_PORT = portFromEnv('KEYGATE_DEV_PORT', 8787);
const UPSTREAM_PORT = portFromEnv('KEYGATE_DEV_UPSTREAM_PORT', 8788);
const PERSIST_ARGS = process.env.KEYGATE_DEV_PERSIST_TO ? ['--persist-to', process.env.KEYGATE_DEV_PERSIST_TO] : [];
const UPSTREAM_SCRIPT = join(ROOT, 'scripts', 'demo-upstream.mjs');
const GATEWAY_URL = `http://${HOST}:${GATEWAY_PORT}`;
const DEV_VARS = join(ROOT, '.dev.vars');
const WRANGLER_BIN = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
/** How long to wait for wrangler to exit after a signal before killing it. */
const STOP_GRACE_MS = 10_000;
/** How long a child's exit waits for a signal to this script that explains it. */
const CHILD_EXIT_SETTLE_MS = 200;
/** How long to wait for the gateway to answer before printing the banner anyway. */
const READY_TIMEOUT_MS = 120_000;

const extraArgs = process.argv.slice(2);

/** @param {string} message */
function fail(message) {
  console.error(`\n[dev] error: ${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Preconditions.
// ---------------------------------------------------------------------------------------------

// Run the project's own wrangler (pinned in package-lock.json) rather than whatever `npx`
// might fetch: the newest wrangler needs Node >= 22 and there may be no network.
if (!existsSync(WRANGLER_BIN)) fail('wrangler is not installed. Run `npm ci` (or `npm install`) first.');

/**
 * Resolves when nothing listens on host:port, else rejects with a readable error.
 * @param {number} port
 * @param {string} what
 */
function assertPortFree(port, what) {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (/** @type {NodeJS.ErrnoException} */ err) => {
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} on ${HOST} is already in use, so the ${what} cannot start.\n` +
                `        Stop whatever holds it (e.g. an earlier \`npm run dev\`; see \`ss -ltnp | grep :${port}\`) and retry.`
            : `cannot listen on ${HOST}:${port} for the ${what}: ${err.message}`,
        ),
      );
    });
    probe.listen(port, HOST, () => probe.close(() => resolve(undefined)));
  });
}

// Fail early, before touching anything, when a port is taken. The gateway port is only
// checked when the caller did not choose another one with --port.
await assertPortFree(UPSTREAM_PORT, 'demo upstream (the /demo and /llm routes in wrangler.toml point there)').catch((err) =>
  fail(err.message),
);
if (!extraArgs.some((a) => a === '--port' || a.startsWith('--port='))) {
  await assertPortFree(GATEWAY_PORT, 'gateway (wrangler dev)').catch((err) => fail(err.message));
}

// ---------------------------------------------------------------------------------------------
// 1. D1 migrations (local). CI=1 makes wrangler apply without asking for confirmation.
// ---------------------------------------------------------------------------------------------

/**
 * Runs the local wrangler to completion with inherited stdio.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<number>} exit code
 */
function runWrangler(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (err) => {
      console.error(`[dev] could not run wrangler: ${err.message}`);
      resolve(1);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

console.log('[dev] applying D1 migrations to the local database (.wrangler/state) ...');
const migrateCode = await runWrangler(['d1', 'migrations', 'apply', 'DB', '--local', ...PERSIST_ARGS], { ...process.env, CI: '1' });
if (migrateCode !== 0) fail(`\`wrangler d1 migrations apply DB --local\` failed (exit code ${migrateCode}). See the output above.`);

// ---------------------------------------------------------------------------------------------
// 2. ADMIN_TOKEN in .dev.vars (a local-only secret file, ignored by git).
// ---------------------------------------------------------------------------------------------

/**
 * Returns the ADMIN_TOKEN from .dev.vars, creating or filling it in when missing or empty.
 * @returns {{ token: string, created: boolean }}
 */
function ensureAdminToken() {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, 'utf8') : '';
  const line = /^[ \t]*ADMIN_TOKEN[ \t]*=(.*)$/m.exec(text);
  const current = line ? unquote((line[1] ?? '').trim()) : '';
  if (current !== '') return { token: current, created: false };

  const token = randomBytes(24).toString('base64url');
  let next;
  if (line) next = text.replace(line[0], `ADMIN_TOKEN=${token}`);
  else next = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}ADMIN_TOKEN=${token}\n`;
  writeFileSync(DEV_VARS, next, { mode: 0o600 });
  return { token, created: true };
}

/** @param {string} value */
function unquote(value) {
  const m = /^(["'])(.*)\1$/.exec(value);
  return m ? (m[2] ?? '') : value;
}

const { token: adminToken, created } = ensureAdminToken();

// The master key that seals signing and webhook secrets (SECRETS_MASTER_KEY) and the key of
// signed identity (IDENTITY_SIGNING_KEY, an Ed25519 private JWK): generated once into
// .dev.vars when missing, never printed.
/** @param {string} name @param {() => string} generate */
function ensureDevSecret(name, generate) {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, 'utf8') : '';
  if (new RegExp(`^[ \\t]*${name}[ \\t]*=.+$`, 'm').test(text)) return;
  writeFileSync(DEV_VARS, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${name}=${generate()}\n`, { mode: 0o600 });
  console.log(`[dev] generated ${name} into .dev.vars`);
}
ensureDevSecret('SECRETS_MASTER_KEY', () => randomBytes(32).toString('base64'));
ensureDevSecret('IDENTITY_SIGNING_KEY', () => {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return `'${JSON.stringify({ ...jwk, kid: `dev-${randomBytes(4).toString('hex')}`, alg: 'EdDSA' })}'`;
});
console.log(
  created
    ? `\n[dev] generated a new admin token and saved it to .dev.vars:\n\n    ADMIN_TOKEN=${adminToken}\n`
    : `\n[dev] admin token (from .dev.vars):\n\n    ADMIN_TOKEN=${adminToken}\n`,
);

// ---------------------------------------------------------------------------------------------
// 3. Demo upstream, a child process: whatever it does, it cannot take this script down.
// ---------------------------------------------------------------------------------------------

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/** @type {Map<ChildProcess, string>} the running children, by what they are */
const children = new Map();
let exiting = false;

/** Stops every child still running: SIGTERM, then SIGKILL after STOP_GRACE_MS. */
function stopChildren() {
  const running = [...children.keys()].filter((c) => c.exitCode === null && c.signalCode === null);
  return Promise.all(
    running.map(
      (child) =>
        new Promise((resolve) => {
          const killTimer = setTimeout(() => {
            console.error(`[dev] the ${children.get(child)} did not stop in time; killing it.`);
            child.kill('SIGKILL');
          }, STOP_GRACE_MS);
          child.once('exit', () => {
            clearTimeout(killTimer);
            resolve(undefined);
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** @param {number} code */
async function shutdown(code) {
  if (exiting) return;
  exiting = true;
  await stopChildren();
  process.exit(code);
}

/** @param {number | null} code @param {NodeJS.Signals | null} signal */
const exitCodeOf = (code, signal) => code ?? (signal ? 128 + ((/** @type {Record<string, number>} */ (constants.signals))[signal] ?? 0) : 0);

/**
 * Watches a child: when it dies while the others still run, say which and stop everything.
 * @param {ChildProcess} child
 * @param {string} what
 * @param {(code: number | null, signal: NodeJS.Signals | null) => number} exitWith this script's exit code
 */
function supervise(child, what, exitWith) {
  children.set(child, what);
  child.once('error', (err) => {
    if (exiting) return;
    console.error(`\n[dev] error: could not run the ${what}: ${err.message}\n`);
    void shutdown(1);
  });
  child.once('exit', async (code, signal) => {
    // Ctrl-C reaches the children and this script together: let the signal handler go first.
    await new Promise((r) => setTimeout(r, CHILD_EXIT_SETTLE_MS));
    if (exiting) return;
    const others = [...children.values()].filter((w) => w !== what);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    console.error(`\n[dev] the ${what} ${how}; stopping ${others.join(' and ') || 'the rest'} and exiting.\n`);
    void shutdown(exitWith(code, signal));
  });
}

const gatewayUrl = (() => {
  // Follow a --port override so the banner and the upstream's JWKS URL stay truthful.
  const i = extraArgs.findIndex((a) => a === '--port' || a.startsWith('--port='));
  if (i === -1) return GATEWAY_URL;
  const port = extraArgs[i]?.includes('=') ? extraArgs[i]?.split('=')[1] : extraArgs[i + 1];
  return `http://${HOST}:${port}`;
})();

console.log(`[dev] starting the demo upstream on ${HOST}:${UPSTREAM_PORT} ...`);
// The demo upstream verifies x-gateway-identity (routes with identity_jwt) against the gateway's JWKS.
const upstream = spawn(process.execPath, [UPSTREAM_SCRIPT, '--host', HOST, '--port', String(UPSTREAM_PORT), '--identity-jwks', `${gatewayUrl}/_keygate/jwks.json`], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
});
/** @type {Promise<string>} its URL, once it listens */
const upstreamReady = new Promise((resolve, reject) => {
  let out = '';
  upstream.stdout?.on('data', (chunk) => {
    process.stdout.write(chunk);
    out += chunk;
    const m = /listening on (\S+)/.exec(out);
    if (m?.[1]) resolve(m[1]);
  });
  upstream.once('exit', () => reject(new Error('exited before it listened')));
});
upstreamReady.catch(() => {});
supervise(upstream, 'demo upstream', () => 1);
const upstreamUrl = await upstreamReady.catch(() => '');
if (upstreamUrl === '') await new Promise(() => {}); // supervise is already stopping everything.

// ---------------------------------------------------------------------------------------------
// 4. wrangler dev.
// ---------------------------------------------------------------------------------------------

// A --port among the extra arguments replaces the default: wrangler refuses two.
const portGiven = extraArgs.some((a) => a === '--port' || a.startsWith('--port='));
// WEBHOOKS_ALLOW_PRIVATE: the demo upstream's webhook receiver is on 127.0.0.1.
const wranglerArgs = ['dev', '--ip', HOST, ...(portGiven ? [] : ['--port', String(GATEWAY_PORT)]), '--var', 'WEBHOOKS_ALLOW_PRIVATE:true', ...PERSIST_ARGS, ...extraArgs];
// --var NAME:value may carry secrets (dev-upstash passes a token): show names only.
const shownArgs = wranglerArgs.map((a, i) => (wranglerArgs[i - 1] === '--var' ? a.replace(/:.*/s, ':<hidden>') : a));
console.log(`[dev] starting: wrangler ${shownArgs.join(' ')}\n`);
const wrangler = spawn(process.execPath, [WRANGLER_BIN, ...wranglerArgs], { cwd: ROOT, stdio: 'inherit' });
// When wrangler ends on its own, its exit code is this script's.
supervise(wrangler, 'gateway (wrangler dev)', exitCodeOf);

for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, async () => {
    if (exiting) return;
    exiting = true;
    // On Ctrl-C the terminal signals the children too; stopping them again is harmless.
    await stopChildren();
    process.exit(exitCodeOf(wrangler.exitCode, wrangler.signalCode));
  });
}
// This script failing must not leave the children behind either.
process.on('uncaughtException', (err) => {
  console.error(`\n[dev] error: ${err.message}; stopping the gateway and the demo upstream.\n`);
  void shutdown(1);
});

// ---------------------------------------------------------------------------------------------
// 5. Banner, once the gateway answers.
// ---------------------------------------------------------------------------------------------

async function waitForGateway() {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!exiting && Date.now() < deadline) {
    try {
      // Any HTTP answer (404 included) means the Worker is serving.
      await fetch(`${gatewayUrl}/`, { signal: AbortSignal.timeout(5_000) });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return false;
}

const ready = await waitForGateway();
if (!exiting) {
  const bar = '='.repeat(78);
  console.log(
    [
      '',
      bar,
      ready ? `  keygate is running: ${gatewayUrl}` : `  keygate should be at ${gatewayUrl} (it has not answered yet; see wrangler's output)`,
      `  demo upstream:      ${upstreamUrl}  (routes /demo and /llm)`,
      `  admin token:        ${adminToken}   (in .dev.vars)`,
      '',
      '  Create a key:',
      `    TOKEN='${adminToken}'`,
      `    curl -s -X POST ${gatewayUrl}/admin/keys -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"demo","owner":"me"}'`,
      '',
      '  Call the demo upstream through the gateway with the returned key:',
      `    curl -s ${gatewayUrl}/demo/hello -H "authorization: Bearer <key>"`,
      '',
      '  Ctrl-C stops everything.',
      bar,
      '',
    ].join('\n'),
  );
}
