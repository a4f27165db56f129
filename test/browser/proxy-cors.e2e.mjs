// End-to-end: a page on another origin calls a `cors` route with a key, in Chromium.
//
//   npm run test:browser        (node --test test/browser/)
//
// Starts `wrangler dev` on a free port (throw-away state, D1 migrations applied) with a
// route that sets `cors` in front of a CORS-unaware local upstream, serves a page from a
// second local server (another origin), and lets Chromium run the page's fetch calls: the
// browser sends a real preflight (POST with JSON and x-api-key is not a simple request),
// keygate answers it without a key, and the page reads the response, a 401 and a 429.
// A page on an origin the route does not list is blocked by the browser.
//
// Needs /usr/bin/chromium (CHROMIUM_PATH overrides it).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { awayFromMinuteEdge, freePort, sleep } from '../cli/harness.mjs';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const READY_TIMEOUT_MS = 90_000;
const ADMIN_TOKEN = `cors-e2e-${randomBytes(18).toString('base64url')}`;

/** @type {{ stateDir: string, base: string, wrangler?: import('node:child_process').ChildProcess, log: string[], servers: import('node:http').Server[], browser?: import('playwright-core').Browser, upstreamSaw: string[] }} */
const env = { stateDir: '', base: '', log: [], servers: [], upstreamSaw: [] };


/** @param {import('node:http').RequestListener} handler */
async function listen(handler) {
  const server = createHttpServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  env.servers.push(server);
  return /** @type {import('node:net').AddressInfo} */ (server.address()).port;
}

async function stopGroup(child, graceMs = 10_000) {
  if (!child?.pid) return;
  const alive = () => {
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-child.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(100);
  if (alive()) process.kill(-child.pid, 'SIGKILL');
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>cors page</title><script>
async function callGateway(url, key) {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ hello: 'world' }) });
    return { status: res.status, body: await res.json(), requestId: res.headers.get('x-gateway-request-id'), retryAfter: res.headers.get('retry-after') };
  } catch (e) {
    return { error: String(e) };
  }
}
</script>`;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  env.stateDir = mkdtempSync(join(tmpdir(), 'keygate-cors-state-'));

  // A CORS-unaware upstream: it would answer OPTIONS with 405, and never sends access-control-*.
  const upstreamPort = await listen((req, res) => {
    env.upstreamSaw.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.method === 'OPTIONS') return res.writeHead(405).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, method: req.method }));
  });
  const pagePort = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
  const otherPagePort = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
  env.pageOrigin = `http://127.0.0.1:${pagePort}`;
  env.otherOrigin = `http://127.0.0.1:${otherPagePort}`;

  const migrate = spawnSync(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', env.stateDir], { cwd: ROOT, env: { ...process.env, CI: '1' }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(migrate.status, 0, `d1 migrations apply failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const port = await freePort();
  env.base = `http://localhost:${port}`;
  const routes = JSON.stringify([{ path: '/web', upstream: `http://127.0.0.1:${upstreamPort}`, methods: ['POST'], limits: { rpm: 3 }, cors: { origins: [env.pageOrigin] } }]);
  env.wrangler = spawn(
    process.execPath,
    [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', env.stateDir, '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`, '--var', `ROUTES:${routes}`, '--show-interactive-dev-session=false'],
    { cwd: ROOT, env: { ...process.env, CI: '1' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  env.wrangler.stdout?.on('data', (c) => env.log.push(String(c)));
  env.wrangler.stderr?.on('data', (c) => env.log.push(String(c)));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (env.wrangler.exitCode !== null) throw new Error(`wrangler dev exited:\n${env.log.join('')}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/admin/ui`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`wrangler dev did not start:\n${env.log.join('')}`);
    await sleep(250);
  }
  env.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
});

after(async () => {
  await env.browser?.close().catch(() => {});
  await stopGroup(env.wrangler);
  for (const s of env.servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(() => r(undefined)));
  }
  if (env.stateDir) rmSync(env.stateDir, { recursive: true, force: true });
});

test('a page on another origin calls a cors route with a key', { timeout: 120_000 }, async (t) => {
  const created = await fetch(`http://${new URL(env.base).host.replace('localhost', '127.0.0.1')}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'cors-page' }),
  });
  assert.equal(created.status, 201);
  const { key } = await created.json();
  const page = await env.browser.newPage();
  /** @type {string[]} */
  const methods = [];
  page.on('request', (r) => methods.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await page.goto(env.pageOrigin);

  await t.test('Chromium preflights, keygate answers without a key, and the page reads the response', async () => {
    const result = await page.evaluate(([url, k]) => globalThis.callGateway(url, k), [`${env.base}/web/data`, key]);
    assert.equal(result.status, 200, JSON.stringify(result));
    assert.deepEqual(result.body, { ok: true, method: 'POST' });
    assert.match(result.requestId ?? '', /^req_/, 'exposed keygate headers are readable');
    // The preflight never reached the CORS-unaware upstream; the POST did, once.
    assert.deepEqual(env.upstreamSaw, ['POST /data']);
  });

  await t.test('a refusal is readable by the page too (401 with its error code)', async () => {
    const result = await page.evaluate(([url]) => globalThis.callGateway(url, 'kg_live_not-a-real-key'), [`${env.base}/web/data`]);
    assert.equal(result.status, 401, JSON.stringify(result));
    assert.equal(result.body.error.code, 'invalid_key');
  });

  await t.test('a 429 is readable, with its Retry-After', async () => {
    // rpm 3: the four requests must share one minute window (a browser round trip is slow).
    await awayFromMinuteEdge(10_000);
    let last;
    for (let i = 0; i < 4; i++) last = await page.evaluate(([url, k]) => globalThis.callGateway(url, k), [`${env.base}/web/data`, key]);
    assert.equal(last.status, 429, JSON.stringify(last));
    assert.equal(last.body.error.code, 'rate_limited');
    assert.ok(last.retryAfter, 'Retry-After is exposed');
  });

  await t.test('a page on an origin the route does not list is blocked by the browser', async () => {
    const other = await env.browser.newPage();
    await other.goto(env.otherOrigin);
    const result = await other.evaluate(([url, k]) => globalThis.callGateway(url, k), [`${env.base}/web/data`, key]);
    assert.ok(result.error, `expected a CORS failure, got ${JSON.stringify(result)}`);
    await other.close();
  });
  await page.close();
});
