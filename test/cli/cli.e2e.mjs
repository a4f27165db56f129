// End-to-end test of the keygate CLI against a real `wrangler dev` gateway.
//
//   node test/cli/cli.e2e.mjs        (or: npm run test:cli)
//
// Starts wrangler dev on a free port with a random ADMIN_TOKEN and its own persistence
// directory (migrations applied there first, so it shares no state with `npm run dev`),
// waits until the admin API answers, drives bin/keygate.mjs with child_process through
// create -> list -> get -> update -> usage -> rotate (idempotent replay) -> revoke -> verify
// plus the failure paths, then stops wrangler by killing its process group and checks that
// nothing of it (wrangler, esbuild, workerd) is left.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { freePort, groupAlive, sleep } from './harness.mjs';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const CLI = join(ROOT, 'bin', 'keygate.mjs');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;

const TOKEN = `e2e-${randomBytes(18).toString('hex')}`;
const persistDir = mkdtempSync(join(tmpdir(), 'keygate-cli-e2e-'));
const wranglerEnv = { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' };

/** @type {import('node:child_process').ChildProcess | undefined} */
let wrangler;
let wranglerLog = '';
let baseUrl = '';
/** How long migrations + wrangler start-up took (reported as a test diagnostic). */
let startupMs = 0;


/**
 * Runs a command to completion.
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, input?: string }} [opts]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
function run(args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Runs the CLI against the test gateway.
 * @param {string[]} args
 * @param {{ env?: Record<string, string | undefined>, input?: string }} [opts]
 */
function cli(args, opts = {}) {
  const env = { ...process.env, KEYGATE_URL: baseUrl, KEYGATE_ADMIN_TOKEN: TOKEN, NO_COLOR: '1', ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return run([CLI, ...args], { env, input: opts.input });
}

/** @param {{ code: number | null, stdout: string, stderr: string }} r */
function assertOk(r) {
  assert.equal(r.code, 0, `expected exit 0, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stderr, '');
}

/** @param {{ code: number | null, stdout: string, stderr: string }} r @param {number} code @param {RegExp} line */
function assertFails(r, code, line) {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `expected one stderr line, got: ${r.stderr}`);
  assert.match(/** @type {string} */ (lines[0]), line);
  assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), 'the admin token must never be printed');
}

/** `label  value` from a key/value block. @param {string} out @param {string} label */
function field(out, label) {
  const m = new RegExp(`^${label} {2,}(.*)$`, 'm').exec(out);
  assert.ok(m, `no "${label}" line in:\n${out}`);
  return /** @type {string} */ (m[1]).trim();
}



before(async () => {
  const t0 = Date.now();
  const migrate = await run([WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistDir], { env: wranglerEnv });
  assert.equal(migrate.code, 0, `migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const port = await freePort();
  const inspectorPort = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  // detached: wrangler leads its own process group, so the whole tree (workerd included) can be stopped at once.
  wrangler = spawn(
    process.execPath,
    [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', persistDir, '--var', `ADMIN_TOKEN:${TOKEN}`, '--var', `SECRETS_MASTER_KEY:${randomBytes(32).toString('base64')}`, '--show-interactive-dev-session=false'],
    { cwd: ROOT, env: wranglerEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Safety net: never leave the gateway running if this process ends early (Ctrl-C, a
  // cancelled `node --test`, an uncaught error). `after` stops it gracefully otherwise.
  const pgid = /** @type {number} */ (wrangler.pid);
  const killGroup = () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killGroup);
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(sig, () => {
      killGroup();
      rmSync(persistDir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  /** @param {Buffer} d */
  const keep = (d) => (wranglerLog = (wranglerLog + d).slice(-20_000));
  wrangler.stdout?.on('data', keep);
  wrangler.stderr?.on('data', keep);

  const started = Date.now();
  for (;;) {
    if (wrangler.exitCode !== null) throw new Error(`wrangler dev exited with ${wrangler.exitCode}:\n${wranglerLog}`);
    if (Date.now() - started > READY_TIMEOUT_MS) throw new Error(`wrangler dev not ready after ${READY_TIMEOUT_MS / 1000}s:\n${wranglerLog}`);
    try {
      const res = await fetch(`${baseUrl}/admin/keys?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status === 200) {
        startupMs = Date.now() - t0;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
});

after(async () => {
  const child = wrangler;
  if (child?.pid) {
    const pgid = child.pid;
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-pgid, 'SIGTERM');
      } catch {
        // already gone
      }
      await Promise.race([exited, sleep(STOP_TIMEOUT_MS)]);
    }
    // wrangler exits before workerd does: wait for the whole group, then force it.
    for (let i = 0; i < 40 && groupAlive(pgid); i++) await sleep(250);
    if (groupAlive(pgid)) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await sleep(500);
    }
    assert.ok(!groupAlive(pgid), `processes of wrangler's group ${pgid} are still running`);
  }
  rmSync(persistDir, { recursive: true, force: true });
});

/** State carried from one step to the next (the steps run in order). */
const s = { id: '', plaintext: '', newId: '', newPlaintext: '', idem: '' };

test('keys create prints the record and the plaintext once', async (t) => {
  t.diagnostic(`gateway started (migrations + wrangler dev ready) in ${(startupMs / 1000).toFixed(1)}s`);
  const r = await cli(['keys', 'create', '--name', 'e2e key', '--owner', 'e2e-owner', '--scope', 'read,write', '--tag', 'e2e', '--rpm', '5', '--ttl', '1h', '--metadata', '{"suite":"cli"}']);
  assertOk(r);
  s.id = field(r.stdout, 'id');
  s.plaintext = field(r.stdout, 'key');
  assert.match(s.id, /^key_[0-9A-Z]{26}$/);
  assert.match(s.plaintext, /^kg_live_[A-Za-z0-9]{38}$/);
  assert.match(r.stdout, /store it now; it will not be shown again/);
  assert.equal(field(r.stdout, 'owner'), 'e2e-owner');
  assert.equal(field(r.stdout, 'limits'), 'rpm 5');
  assert.match(field(r.stdout, 'expires'), /\(in (5\dm|1h)\)$/);
});

test('keys create --signing-secret shows the secret once, and keygate sign makes a token the gateway admits once', async () => {
  const r = await cli(['keys', 'create', '--name', 'e2e signer', '--owner', 'e2e-signer', '--signing-secret']);
  assertOk(r);
  const id = field(r.stdout, 'id');
  const secret = field(r.stdout, 'signing secret');
  assert.match(secret, /^kgs_[A-Za-z0-9_-]{43}$/);
  const signed = await cli(['sign', '--key-id', id, '--secret', secret]);
  assertOk(signed);
  const token = signed.stdout.trim();
  // wrangler.toml's /demo route: admitted past keygate (the demo upstream may not be running: 200 or 502), then refused as a replay.
  const first = await fetch(`${baseUrl}/demo/hello`, { headers: { authorization: `JWT ${token}` } });
  await first.arrayBuffer();
  assert.ok(first.status === 200 || first.status === 502, `first use answered ${first.status}`);
  const again = await fetch(`${baseUrl}/demo/hello`, { headers: { authorization: `JWT ${token}` } });
  assert.equal(again.status, 401);
  assert.equal((/** @type {any} */ (await again.json())).error.code, 'token_replayed');
});

test('keys list shows the key in a table, and --json the raw page', async () => {
  const r = await cli(['keys', 'list', '--owner', 'e2e-owner']);
  assertOk(r);
  const [header, row] = r.stdout.split('\n');
  assert.match(/** @type {string} */ (header), /^ID +DISPLAY +NAME +OWNER +TYPE +STATUS +EXPIRES +LAST USED$/);
  assert.match(/** @type {string} */ (row), new RegExp(`^${s.id} +kg_live_\\S{4}…\\S{4} +e2e key +e2e-owner +user +active +in (5\\dm|1h) +never$`));

  const j = await cli(['keys', 'list', '--owner', 'e2e-owner', '--json']);
  assertOk(j);
  const page = JSON.parse(j.stdout);
  assert.deepEqual(page.keys.map((/** @type {any} */ k) => k.id), [s.id]);
  assert.equal(page.next_cursor, null);
});

test('keys get shows one key; a plaintext in place of the id is refused locally', async () => {
  const r = await cli(['keys', 'get', s.id]);
  assertOk(r);
  assert.equal(field(r.stdout, 'name'), 'e2e key');
  assert.equal(field(r.stdout, 'metadata'), '{"suite":"cli"}');
  assert.ok(!r.stdout.includes(s.plaintext), 'get must not show the plaintext');

  assertFails(await cli(['keys', 'get', s.plaintext]), 2, /^error: usage_error: that looks like a plaintext key/);
});

test('keys update sends only the given fields and merges limits', async () => {
  const r = await cli(['keys', 'update', s.id, '--name', 'e2e renamed', '--tpm', '1000', '--tag', 'e2e,updated', '--json']);
  assertOk(r);
  const key = JSON.parse(r.stdout);
  assert.equal(key.name, 'e2e renamed');
  assert.deepEqual(key.limits, { rpm: 5, tpm: 1000 });
  assert.deepEqual(key.tags, ['e2e', 'updated']);
  assert.equal(key.owner, 'e2e-owner');
  assert.deepEqual(key.metadata, { suite: 'cli' });

  assertFails(await cli(['keys', 'update', s.id, '--type', 'superuser']), 1, /^error: validation_failed: .*type: /);
});

test('keys usage shows windows with bars', async () => {
  // One counted request, so the rpm window is not empty. Not in a minute's last seconds: the
  // usage read must land in the same rpm window as the counted request.
  while (Date.now() % 60_000 > 50_000) await sleep(1_000);
  assertOk(await cli(['keys', 'verify', '-', '--consume'], { input: `${s.plaintext}\n` }));
  const r = await cli(['keys', 'usage', s.id]);
  assertOk(r);
  assert.match(r.stdout, /^WINDOW +KIND +USAGE +USED \/ LIMIT +REMAINING +RESETS$/m);
  assert.match(r.stdout, /^rpm +requests\/minute +\[####·{16}\] +20% +1 \/ 5 +4 +in \d+s$/m);
  assert.match(r.stdout, /^tpm +tokens\/minute +\[·{20}\] +0% +0 \/ 1,000 +1,000 /m);

  const j = JSON.parse((await cli(['keys', 'usage', s.id, '--json'])).stdout);
  assert.equal(j.key_id, s.id);
  const rpm = j.windows.find((/** @type {any} */ w) => w.name === 'rpm');
  assert.deepEqual([rpm.limit, rpm.used, rpm.remaining], [5, 1, 4]);
});

test('owners set, get, list, usage and delete; keys credits adds to and sets a balance', async () => {
  const owner = `cli-owner/${randomBytes(4).toString('hex')}`;
  const set = await cli(['owners', 'set', owner, '--rpm', '100', '--budget-usd', '5', '--budget-period', 'month', '--model', 'gpt-4o*', '--max-concurrent', '3']);
  assertOk(set);
  assert.equal(field(set.stdout, 'owner'), owner);
  assert.equal(field(set.stdout, 'models'), 'gpt-4o*');
  assert.equal(field(set.stdout, 'max concurrent'), '3');
  assert.equal(field((await cli(['owners', 'get', owner])).stdout, 'budget'), '$5/month');
  const list = JSON.parse((await cli(['owners', 'list', '--all', '--json'])).stdout);
  assert.ok(list.owners.some((/** @type {any} */ o) => o.owner === owner));
  const usage = await cli(['owners', 'usage', owner]);
  assertOk(usage);
  assert.equal(field(usage.stdout, 'owner'), owner);
  assert.match(usage.stdout, /^rpm +requests\/minute /m);

  const created = JSON.parse((await cli(['keys', 'create', '--name', 'credits', '--credits', '10', '--credits-refill', '100/day', '--json'])).stdout);
  const add = await cli(['keys', 'credits', created.id, '--add', '5']);
  assertOk(add);
  assert.equal(field(add.stdout, 'credits'), '15');
  assert.equal(JSON.parse((await cli(['keys', 'credits', created.id, '--set', '2', '--json'])).stdout).remaining, 2);
  assertFails(await cli(['keys', 'credits', created.id]), 2, /^error: usage_error: give --add <n> or --set <n>$/);

  assertOk(await cli(['owners', 'delete', owner]));
  assertFails(await cli(['owners', 'get', owner]), 1, /^error: not_found: /);
});

test('keys rotate issues a new key; a replay with the printed idempotency key returns the same one', async () => {
  const r = await cli(['keys', 'rotate', s.id, '--grace', '10m']);
  assertOk(r);
  assert.match(r.stdout, new RegExp(`^rotated ${s.id} -> key_[0-9A-Z]{26}$`, 'm'));
  assert.match(r.stdout, /store it now; it will not be shown again/);
  s.newId = field(r.stdout, 'id');
  s.newPlaintext = field(r.stdout, 'key');
  s.idem = /** @type {string} */ (field(r.stdout, 'idempotency key').split(/\s+/)[0]);
  assert.notEqual(s.newId, s.id);
  assert.notEqual(s.newPlaintext, s.plaintext);
  assert.ok(s.idem.length >= 8);
  assert.equal(field(r.stdout, 'old key status'), 'active');
  assert.match(field(r.stdout, 'old key works until'), /\(in (9m\d+s|10m)\)$/);

  const again = await cli(['keys', 'rotate', s.id, '--grace', '10m', '--idempotency-key', s.idem, '--json']);
  assertOk(again);
  const replay = JSON.parse(again.stdout);
  assert.equal(replay.replayed, true);
  assert.equal(replay.id, s.newId);
  assert.equal(replay.key, s.newPlaintext);
  assert.equal(replay.previous.id, s.id);

  const human = await cli(['keys', 'rotate', s.id, '--grace', '10m', '--idempotency-key', s.idem]);
  assertOk(human);
  assert.match(human.stdout, /^replayed: /);
  assert.equal(field(human.stdout, 'key'), s.newPlaintext);

  // Without the idempotency key, a second rotation of the same key is refused.
  assertFails(await cli(['keys', 'rotate', s.id]), 1, /^error: conflict: /);
});

test('keys revoke makes the key unusable', async () => {
  assertFails(await cli(['keys', 'revoke', s.newId]), 2, /^error: usage_error: --reason <text> is required$/);
  const r = await cli(['keys', 'revoke', s.newId, '--reason', 'e2e done']);
  assertOk(r);
  assert.equal(field(r.stdout, 'status'), 'revoked');
  assert.match(field(r.stdout, 'revoked'), /: e2e done$/);
});

test('keys verify: exit 0 when valid, 1 with the reason when not', async () => {
  const revoked = await cli(['keys', 'verify', s.newPlaintext]);
  assertFails(revoked, 1, /^error: key_revoked: the key was revoked: e2e done$/);
  assert.equal(field(revoked.stdout, 'valid'), 'no');
  assert.equal(field(revoked.stdout, 'code'), 'key_revoked');

  // The old key still works during its grace period.
  const old = await cli(['keys', 'verify', s.plaintext, '--scope', 'read']);
  assertOk(old);
  assert.equal(field(old.stdout, 'valid'), 'yes');

  const scope = await cli(['keys', 'verify', s.plaintext, '--scope', 'billing', '--json']);
  assert.equal(scope.code, 1);
  assert.equal(JSON.parse(scope.stdout).code, 'insufficient_scope');
  assert.equal(scope.stderr.trim(), 'error: insufficient_scope: the key is not valid');
});

test('keys verify checks scopes of keys with IP/referer allowlists too', async () => {
  const created = await cli(['keys', 'create', '--name', 'e2e ip', '--scope', 'read', '--allowed-ip', '10.0.0.0/8', '--allowed-referer', 'example.com', '--json']);
  assertOk(created);
  const { key } = JSON.parse(created.stdout);
  assertFails(await cli(['keys', 'verify', key, '--scope', 'write']), 1, /^error: insufficient_scope: /);
  assertOk(await cli(['keys', 'verify', key, '--scope', 'read']));
});

test('find, audit and delete', async () => {
  const found = await cli(['keys', 'find', '--key', '-', '--json'], { input: s.plaintext });
  assertOk(found);
  assert.deepEqual(JSON.parse(found.stdout).keys.map((/** @type {any} */ k) => k.id), [s.id]);

  const audit = await cli(['audit', '--key-id', s.id]);
  assertOk(audit);
  assert.match(audit.stdout, /^AT +ACTOR +ACTION +KEY +CHANGES$/m);
  for (const action of ['create', 'update', 'rotate']) assert.match(audit.stdout, new RegExp(`admin_token +${action} +${s.id}`));

  const del = await cli(['keys', 'delete', s.id]);
  assertOk(del);
  assert.equal(del.stdout.trim(), `deleted ${s.id}`);
  const gone = await cli(['keys', 'get', s.id, '--json']);
  assertFails(gone, 1, /^error: not_found: /);
  assert.equal(JSON.parse(gone.stdout).error.code, 'not_found');
});

test('keys logs and keys analytics show what a key did; --follow prints new requests', async () => {
  const created = JSON.parse((await cli(['keys', 'create', '--name', 'logged', '--json'])).stdout);
  // The /demo route's upstream (127.0.0.1:8788) may not be running: a 502 is logged like a 200.
  const first = await fetch(`${baseUrl}/demo/logged-one`, { headers: { authorization: `Bearer ${created.key}` } });
  await first.arrayBuffer();
  /** @type {any} */
  let page = { entries: [] };
  for (let i = 0; i < 60 && page.entries.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const r = await cli(['keys', 'logs', created.id, '--json']);
    assertOk(r);
    page = JSON.parse(r.stdout);
  }
  assert.equal(page.entries.length, 1, 'the request reached the log through the queue');
  assert.equal(page.entries[0].path, '/demo/logged-one');
  assert.equal(page.entries[0].status, first.status);
  const table = await cli(['keys', 'logs', created.id]);
  assertOk(table);
  assert.match(table.stdout, /\/demo\/logged-one/);
  const analytics = await cli(['keys', 'analytics', created.id]);
  assertOk(analytics);
  assert.match(analytics.stdout, /REQUESTS/);
  assert.match(analytics.stdout, /\s1\s/);
  assert.equal((await cli(['keys', 'logs', 'kg_live_notanid'])).code, 2);

  const env = { ...process.env, KEYGATE_URL: baseUrl, KEYGATE_ADMIN_TOKEN: TOKEN, NO_COLOR: '1' };
  const follow = spawn(process.execPath, [CLI, 'keys', 'logs', created.id, '--follow'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  follow.stdout.on('data', (d) => (out += d));
  try {
    for (let i = 0; i < 40 && !out.includes('/demo/logged-one'); i++) await new Promise((r) => setTimeout(r, 250));
    assert.match(out, /\/demo\/logged-one/);
    const second = await fetch(`${baseUrl}/demo/logged-two`, { headers: { authorization: `Bearer ${created.key}` } });
    await second.arrayBuffer();
    for (let i = 0; i < 120 && !out.includes('/demo/logged-two'); i++) await new Promise((r) => setTimeout(r, 250));
    assert.match(out, /\/demo\/logged-two/, `--follow printed:\n${out}`);
  } finally {
    follow.kill();
  }
});

test('failures: bad token, no URL, unreachable gateway, bad flags', async () => {
  const badToken = await cli(['keys', 'list'], { env: { KEYGATE_ADMIN_TOKEN: 'not-the-token' } });
  assertFails(badToken, 1, /^error: unauthorized: /);
  assert.equal(badToken.stdout, '');

  assertFails(await cli(['keys', 'list'], { env: { KEYGATE_URL: undefined } }), 2, /^error: usage_error: no gateway URL: set KEYGATE_URL or pass --url$/);
  assertFails(await cli(['keys', 'list'], { env: { KEYGATE_ADMIN_TOKEN: undefined } }), 2, /^error: usage_error: no admin token: /);

  const closed = await freePort();
  assertFails(await cli(['keys', 'list', '--url', `http://127.0.0.1:${closed}`]), 1, new RegExp(`^error: network_error: cannot reach http://127\\.0\\.0\\.1:${closed}: `));

  assertFails(await cli(['keys', 'create', '--rpm', 'lots']), 2, /^error: usage_error: --rpm must be a whole number/);
  assertFails(await cli(['keys', 'create', '--bogus']), 2, /^error: usage_error: unknown option --bogus/);
  assertFails(await cli(['keys', 'frob']), 2, /^error: usage_error: unknown command "keys frob"/);
  assertFails(await cli(['keys', 'create', '--allowed-ip', '999.1.1.1']), 1, /^error: validation_failed: .*\(allowed_ips\[0\]: must be an IPv4 or IPv6 address or CIDR\)$/);
});

test('--help for every command, without URL or token', async () => {
  const env = { KEYGATE_URL: undefined, KEYGATE_ADMIN_TOKEN: undefined };
  const main = await cli(['--help'], { env });
  assertOk(main);
  const commands = [...main.stdout.matchAll(/^ {2}((?:keys )?[a-z]+)(?: <[^>]+>)? {2,}/gm)].map((m) => /** @type {string} */ (m[1]));
  assert.ok(commands.length >= 14, `commands in help: ${commands.join(', ')}`);
  for (const c of commands) {
    const r = await cli([...c.split(' '), '--help'], { env });
    assertOk(r);
    assert.match(r.stdout, new RegExp(`^Usage: keygate ${c}\\b`));
  }
});

test('keys update --help shows no defaults (an update changes only the flags given); keys create --help does', async () => {
  const env = { KEYGATE_URL: undefined, KEYGATE_ADMIN_TOKEN: undefined };
  const update = await cli(['keys', 'update', '--help'], { env });
  assertOk(update);
  assert.doesNotMatch(update.stdout, /\(default /);
  assert.match(update.stdout, /--type <type> +user \| service \| system$/m);
  const create = await cli(['keys', 'create', '--help'], { env });
  assertOk(create);
  assert.match(create.stdout, /--type <type> +user \| service \| system \(default user\)$/m);
  assert.match(create.stdout, /--scope <scope> +scopes; repeat or comma-separate \(default read,write\) \[repeatable\]$/m);
});

test('usage, network and API failures print the same line shape: error: <code>: <message>', async () => {
  const closed = await freePort();
  const failures = [
    await cli(['keys', 'frob']),
    await cli(['keys', 'list', '--url', `http://127.0.0.1:${closed}`]),
    await cli(['keys', 'get', 'key_00000000000000000000000000']),
  ];
  assert.deepEqual(
    failures.map((r) => /^error: ([a-z_0-9]+): \S/.exec(r.stderr)?.[1]),
    ['usage_error', 'network_error', 'not_found'],
  );
});
