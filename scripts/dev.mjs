// `npm run dev`: keygate on your machine, from a fresh clone, in one command.
//
//   1. applies the D1 migrations to the local database (.wrangler/state),
//   2. makes sure .dev.vars holds an ADMIN_TOKEN (generates one on first run) and prints it,
//   3. starts the demo upstream in this process on http://127.0.0.1:8788 (the /demo and /llm
//      routes in wrangler.toml point there),
//   4. runs `wrangler dev --ip 127.0.0.1 --port 8787` with any extra arguments passed on
//      (e.g. `node scripts/dev.mjs --var NAME:value`, as scripts/dev-upstash.mjs does),
//   5. prints a banner with the admin token and two curl commands once the gateway answers.
//
// Ctrl-C / SIGTERM stops wrangler and the upstream; the exit code is wrangler's.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoUpstream } from './demo-upstream.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const HOST = '127.0.0.1';
const GATEWAY_PORT = 8787;
// KEYGATE_DEV_UPSTREAM_PORT moves the demo upstream (test/cli/quickstart.e2e.mjs runs beside a
// developer's `npm run dev`); routes then need `--var ROUTES:<json>` pointing at it.
const UPSTREAM_PORT = Number(process.env.KEYGATE_DEV_UPSTREAM_PORT || 8788);
const GATEWAY_URL = `http://${HOST}:${GATEWAY_PORT}`;
const DEV_VARS = join(ROOT, '.dev.vars');
const WRANGLER_BIN = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
/** How long to wait for wrangler to exit after a signal before killing it. */
const STOP_GRACE_MS = 10_000;
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
const migrateCode = await runWrangler(['d1', 'migrations', 'apply', 'DB', '--local'], { ...process.env, CI: '1' });
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

// Secrets for signed requests (SECRETS_MASTER_KEY) and signed identity (IDENTITY_SIGNING_KEY,
// an Ed25519 private JWK): generated once into .dev.vars when missing, never printed.
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
// 3. Demo upstream, in this process.
// ---------------------------------------------------------------------------------------------

/** @type {import('./demo-upstream.mjs').DemoUpstream} */
let upstream;
try {
  // The demo upstream verifies x-gateway-identity against the gateway's JWKS (routes with
  // identity_jwt), on the gateway's port (a --port among the extra arguments moves it).
  const portArg = extraArgs.findIndex((a) => a === '--port' || a.startsWith('--port='));
  const gatewayPort = portArg === -1 ? GATEWAY_PORT : (extraArgs[portArg]?.includes('=') ? extraArgs[portArg]?.split('=')[1] : extraArgs[portArg + 1]);
  upstream = await startDemoUpstream({ host: HOST, port: UPSTREAM_PORT, identityJwksUrl: `http://${HOST}:${gatewayPort}/_keygate/jwks.json` });
} catch (err) {
  const e = /** @type {NodeJS.ErrnoException} */ (err);
  fail(
    e.code === 'EADDRINUSE'
      ? `port ${UPSTREAM_PORT} on ${HOST} is already in use, so the demo upstream cannot start.\n` +
          `        The /demo and /llm routes in wrangler.toml expect it there. Stop whatever holds the port\n` +
          `        (e.g. an earlier \`npm run dev\`; see \`ss -ltnp | grep :${UPSTREAM_PORT}\`) and retry.`
      : `the demo upstream failed to start: ${e.message}`,
  );
}
console.log(`[dev] demo upstream listening on ${upstream.url}`);

// ---------------------------------------------------------------------------------------------
// 4. wrangler dev.
// ---------------------------------------------------------------------------------------------

// A --port among the extra arguments replaces the default: wrangler refuses two.
const portGiven = extraArgs.some((a) => a === '--port' || a.startsWith('--port='));
const wranglerArgs = ['dev', '--ip', HOST, ...(portGiven ? [] : ['--port', String(GATEWAY_PORT)]), ...extraArgs];
// --var NAME:value may carry secrets (dev-upstash passes a token): show names only.
const shownArgs = wranglerArgs.map((a, i) => (wranglerArgs[i - 1] === '--var' ? a.replace(/:.*/s, ':<hidden>') : a));
console.log(`[dev] starting: wrangler ${shownArgs.join(' ')}\n`);
const wrangler = spawn(process.execPath, [WRANGLER_BIN, ...wranglerArgs], { cwd: ROOT, stdio: 'inherit' });

let exiting = false;
/** @type {NodeJS.Timeout | undefined} */
let killTimer;

/** @param {number} code */
async function shutdown(code) {
  if (exiting) return;
  exiting = true;
  clearTimeout(killTimer);
  await upstream.close().catch(() => {});
  process.exit(code);
}

wrangler.once('error', (err) => {
  console.error(`[dev] could not start wrangler: ${err.message}`);
  void shutdown(1);
});
wrangler.once('exit', (code, signal) => {
  const signo = signal ? (/** @type {Record<string, number>} */ (constants.signals)[signal] ?? 0) : 0;
  void shutdown(code ?? (signal ? 128 + signo : 0));
});

for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    if (wrangler.exitCode !== null || wrangler.signalCode !== null) return void shutdown(0);
    // On Ctrl-C the terminal signals wrangler too; a second SIGTERM is harmless.
    wrangler.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig);
    // wrangler stops workerd itself; if it hangs, make sure nothing is left behind.
    killTimer ??= setTimeout(() => {
      console.error('[dev] wrangler did not stop in time; killing it.');
      wrangler.kill('SIGKILL');
    }, STOP_GRACE_MS);
  });
}

// ---------------------------------------------------------------------------------------------
// 5. Banner, once the gateway answers.
// ---------------------------------------------------------------------------------------------

const gatewayUrl = (() => {
  // Follow a --port override so the banner stays truthful.
  const i = extraArgs.findIndex((a) => a === '--port' || a.startsWith('--port='));
  if (i === -1) return GATEWAY_URL;
  const port = extraArgs[i]?.includes('=') ? extraArgs[i]?.split('=')[1] : extraArgs[i + 1];
  return `http://${HOST}:${port}`;
})();

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
      `  demo upstream:      ${upstream.url}  (routes /demo and /llm)`,
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
