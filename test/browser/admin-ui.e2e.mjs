// End-to-end test of the admin web page (GET /admin/ui) in a real browser.
//
//   npm run test:browser        (node --test test/browser/)
//
// Starts `wrangler dev` on a free port with a random ADMIN_TOKEN and a throw-away local state
// directory (D1 migrations applied first), a tiny local upstream for the /demo route, and
// Debian's chromium through playwright-core with a fresh profile. Then drives the page the
// way an operator would: wrong token, sign in, create a key, list/filter/paginate, usage
// bars, deactivate/activate, rotate, revoke, 401 handling and sign out. Everything it starts
// is stopped in `after`, and the test checks that no process of its own is left behind.
//
// Needs /usr/bin/chromium (`apt-get install -y chromium`); CHROMIUM_PATH overrides it.
// The screenshot lands in /tmp/admin-ui.png (ADMIN_UI_SCREENSHOT overrides it).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const SCREENSHOT = process.env.ADMIN_UI_SCREENSHOT ?? '/tmp/admin-ui.png';
const KEY_FORMAT = /^kg_live_[0-9A-Za-z]{38}$/;
const PAGE_SIZE = 20; // the page's PAGE_SIZE
const READY_TIMEOUT_MS = 90_000;
const UI_TIMEOUT_MS = 15_000;

const startedAt = Date.now();
const ADMIN_TOKEN = `ui-e2e-${randomBytes(18).toString('base64url')}`;
const RUN = randomBytes(4).toString('hex');

/** @type {{ stateDir: string, profileDir: string, port: number, base: string, wrangler?: import('node:child_process').ChildProcess, wranglerLog: string[], upstream?: import('node:http').Server, context?: import('playwright-core').BrowserContext, page?: import('playwright-core').Page }} */
const env = { stateDir: '', profileDir: '', port: 0, base: '', wranglerLog: [] };
/** Everything the page asked the network for, console errors, page errors and JS dialogs. */
const seen = { requests: /** @type {string[]} */ ([]), consoleErrors: /** @type {string[]} */ ([]), pageErrors: /** @type {string[]} */ ([]), dialogs: /** @type {string[]} */ ([]) };

// -------------------------------------------------------------------------------------------
// Helpers.
// -------------------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Minute windows are fixed: a test that counts in one must not straddle its end. Waits for
 * the next minute when fewer than `marginMs` are left in this one (as awayFromMinuteEdge in
 * test/limits/stores.ts, which this Node suite cannot import).
 * @param {number} [marginMs]
 */
async function awayFromMinuteEdge(marginMs = 3_000) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await sleep(left + 100);
}

async function waitForGateway(child) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${env.wranglerLog.join('')}`);
    try {
      const res = await fetch(`${env.base}/admin/ui`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`wrangler dev did not answer within ${READY_TIMEOUT_MS} ms:\n${env.wranglerLog.join('')}`);
}

/** Stops a detached child and its whole process group (wrangler runs workerd and esbuild). */
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
  while (alive()) await sleep(50);
}

/** PIDs whose command line mentions `needle` (our unique port / profile / state paths). */
function processesMentioning(needle) {
  if (!existsSync('/proc')) return [];
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(needle)) out.push(`${entry}: ${cmd.slice(0, 160)}`);
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

async function adminApi(method, path, body) {
  const res = await fetch(`${env.base}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.ok(res.ok, `${method} ${path} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** @returns {import('playwright-core').Page} */
const page = () => /** @type {any} */ (env.page);
const row = (id) => page().locator(`tr.key-row[data-key-id="${id}"]`);
const rowsNamed = (name) => page().locator('tr.key-row').filter({ has: page().locator('.title', { hasText: name }) });
const text = async (selector) => ((await page().locator(selector).textContent()) ?? '').trim();

async function waitVisible(selector) {
  await page().locator(selector).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
}
async function waitHidden(selector) {
  await page().locator(selector).first().waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
}
async function waitRowStatus(id, status) {
  await page().locator(`tr.key-row[data-key-id="${id}"][data-status="${status}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
  assert.equal(await row(id).locator('.badge').textContent(), status);
}
async function waitRowCount(n) {
  await page().waitForFunction((count) => document.querySelectorAll('tr.key-row').length === count, n, { timeout: UI_TIMEOUT_MS });
}
async function applyFilters(values) {
  const form = page().locator('#filters');
  await page().locator('#filters-reset').click();
  for (const [name, value] of Object.entries(values)) {
    const field = form.locator(`[name="${name}"]`);
    if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value);
    else await field.fill(value);
  }
  await form.locator('button[type="submit"]').click();
  // The rows of the previous filters may match the count the caller waits for next; wait until
  // the listing for these filters has been drawn.
  await page().waitForFunction(() => !document.querySelector('#keys-body').hasAttribute('aria-busy'), null, { timeout: UI_TIMEOUT_MS });
}
async function signIn(token) {
  await page().locator('#signin-token').fill(token);
  await page().locator('#signin-form button[type="submit"]').click();
}
async function storage() {
  return page().evaluate(() => ({
    session: Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])),
    local: localStorage.length,
    cookie: document.cookie,
  }));
}
async function readSecretAndClose() {
  await waitVisible('#secret-dialog[open]');
  const plaintext = await page().locator('#secret-value').inputValue();
  await page().locator('#secret-done').click();
  await waitHidden('#secret-dialog');
  assert.equal(await page().locator('#secret-value').inputValue(), '', 'the plaintext is cleared when the dialog closes');
  const html = await page().content();
  assert.ok(!html.includes(plaintext), 'the plaintext is nowhere in the DOM after closing');
  const st = await storage();
  assert.ok(!JSON.stringify(st).includes(plaintext), 'the plaintext is never stored');
  return plaintext;
}

// -------------------------------------------------------------------------------------------
// Setup and teardown.
// -------------------------------------------------------------------------------------------

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  assert.ok(existsSync(WRANGLER), 'wrangler is not installed: npm ci');
  env.stateDir = mkdtempSync(join(tmpdir(), 'keygate-ui-state-'));
  env.profileDir = mkdtempSync(join(tmpdir(), 'keygate-ui-profile-'));

  // A local upstream for the /demo route, so proxied requests count against the key's limits.
  env.upstream = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise((r) => env.upstream?.listen(0, '127.0.0.1', () => r(undefined)));
  const upstreamPort = /** @type {import('node:net').AddressInfo} */ (env.upstream.address()).port;

  const migrate = spawnSync(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', env.stateDir], {
    cwd: ROOT,
    env: { ...process.env, CI: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(migrate.status, 0, `d1 migrations apply failed:\n${migrate.stdout}\n${migrate.stderr}`);

  env.port = await freePort();
  env.base = `http://127.0.0.1:${env.port}`;
  const routes = JSON.stringify([{ path: '/demo', upstream: `http://127.0.0.1:${upstreamPort}`, strip_prefix: true }]);
  env.wrangler = spawn(
    process.execPath,
    [
      WRANGLER, 'dev',
      '--ip', '127.0.0.1',
      '--port', String(env.port),
      '--persist-to', env.stateDir,
      '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`,
      '--var', `ROUTES:${routes}`,
      '--var', `SECRETS_MASTER_KEY:${randomBytes(32).toString('base64')}`,
      '--show-interactive-dev-session=false',
    ],
    { cwd: ROOT, env: { ...process.env, CI: '1' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (chunk) => {
    env.wranglerLog.push(String(chunk));
    if (env.wranglerLog.length > 400) env.wranglerLog.splice(0, 100);
  };
  env.wrangler.stdout?.on('data', keep);
  env.wrangler.stderr?.on('data', keep);
  await waitForGateway(env.wrangler);

  env.context = await chromium.launchPersistentContext(env.profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1360, height: 860 },
  });
  await env.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.base });
  env.page = env.context.pages()[0] ?? (await env.context.newPage());
  env.page.on('request', (req) => seen.requests.push(req.url()));
  env.page.on('console', (msg) => {
    // A fetch answered 4xx is logged by Chromium as "Failed to load resource"; those are expected.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) seen.consoleErrors.push(msg.text());
  });
  env.page.on('pageerror', (err) => seen.pageErrors.push(String(err)));
  env.page.on('dialog', async (d) => {
    seen.dialogs.push(d.message());
    await d.dismiss();
  });
});

after(async () => {
  await env.context?.close().catch(() => {});
  await stopGroup(env.wrangler);
  await new Promise((r) => (env.upstream ? env.upstream.close(() => r(undefined)) : r(undefined)));
  const leftovers = [
    ...(env.port ? processesMentioning(`--port ${env.port}`) : []),
    ...(env.port ? processesMentioning(`127.0.0.1:${env.port}`) : []),
    ...(env.profileDir ? processesMentioning(env.profileDir) : []),
    ...(env.stateDir ? processesMentioning(env.stateDir) : []),
  ];
  for (const dir of [env.stateDir, env.profileDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  console.log(`admin-ui e2e: ${((Date.now() - startedAt) / 1000).toFixed(1)} s including wrangler and chromium start-up`);
  assert.deepEqual(leftovers, [], 'no wrangler, workerd or chromium process is left running');
});

// -------------------------------------------------------------------------------------------
// The test.
// -------------------------------------------------------------------------------------------

test('admin UI at /admin/ui in chromium', { timeout: 240_000 }, async (t) => {
  const name = `ui-key-${RUN}`;
  let keyId = '';
  let firstPlaintext = '';
  let rotatedId = '';

  await t.test('served without admin auth, with strict security headers', async () => {
    const a = await fetch(`${env.base}/admin/ui`);
    const b = await fetch(`${env.base}/admin/ui`);
    const html = await a.text();
    await b.arrayBuffer();
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type') ?? '', /^text\/html/);
    const csp = a.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "connect-src 'self'", 'img-src data:', "frame-ancestors 'none'"]) {
      assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
    }
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, 'script-src uses a nonce');
    assert.ok(csp.includes(`style-src 'nonce-${nonce}'`), 'style-src uses the same nonce');
    assert.notEqual(b.headers.get('content-security-policy'), csp, 'a fresh nonce per response');
    assert.equal((html.match(/<script\b/g) ?? []).length, 1);
    assert.equal((html.match(/<style\b/g) ?? []).length, 1);
    assert.ok(html.includes(`<script nonce="${nonce}">`) && html.includes(`<style nonce="${nonce}">`));
    assert.ok(!/\b(?:src|href)=["']?(?:https?:)?\/\//i.test(html), 'no external assets');
    assert.equal(a.headers.get('x-frame-options'), 'DENY');
    assert.equal(a.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(a.headers.get('cache-control'), 'no-store');
    // The rest of /admin stays behind admin auth.
    const api = await fetch(`${env.base}/admin/keys`);
    assert.equal(api.status, 401);
    await api.arrayBuffer();
  });

  await t.test('a wrong token shows the error and stays on the sign-in form', async () => {
    await page().goto(`${env.base}/admin/ui`);
    await waitVisible('#signin-view');
    assert.ok(await page().locator('#app-view').isHidden());
    await signIn('definitely-not-the-token');
    await waitVisible('#error');
    assert.equal(await text('#error .code'), 'unauthorized');
    assert.match(await text('#error'), /Admin credentials are required/);
    assert.ok(await page().locator('#signin-view').isVisible());
    assert.ok(await page().locator('#app-view').isHidden());
    assert.deepEqual((await storage()).session, {}, 'a refused credential is not kept');
  });

  await t.test('sign in keeps the credential in memory only (no Web Storage, no cookie)', async () => {
    await signIn(ADMIN_TOKEN);
    await waitVisible('#app-view');
    assert.ok(await page().locator('#error').isHidden(), 'the old error is cleared');
    assert.ok(await page().locator('#signin-view').isHidden());
    const st = await storage();
    assert.deepEqual(st.session, {});
    assert.equal(st.local, 0);
    assert.equal(st.cookie, '');
    assert.ok(await page().locator('#keys-empty').isVisible(), 'an empty list says so');
  });

  await t.test('create a key: the plaintext is shown once with a Copy button', async () => {
    await page().locator('#new-key').click();
    await waitVisible('#create-dialog[open]');
    const form = page().locator('#create-form');
    await form.locator('[name="name"]').fill(name);
    await form.locator('[name="owner"]').fill(`team-${RUN}`);
    await form.locator('[name="type"]').selectOption('service');
    await form.locator('[name="tags"]').fill('e2e, ui');
    await form.locator('[name="ttl_seconds"]').fill('86400');
    await form.locator('[name="rpm"]').fill('10');
    await form.locator('[name="rpd"]').fill('1000');
    await form.locator('[name="tpm"]').fill('20000');
    await form.locator('[name="tpd"]').fill('500000');
    await form.locator('[name="budget_usd"]').fill('5');
    await form.locator('[name="budget_period"]').selectOption('month');
    const created = page().waitForResponse((r) => r.url() === `${env.base}/admin/keys` && r.request().method() === 'POST');
    await form.locator('button[type="submit"]').click();
    const res = await created;
    assert.equal(res.status(), 201);
    keyId = (await res.json()).id;

    await waitVisible('#secret-dialog[open]');
    const plaintext = await page().locator('#secret-value').inputValue();
    assert.match(plaintext, KEY_FORMAT);
    assert.match(await text('#secret-dialog .warning'), /only this once/);
    const copy = page().locator('#secret-copy');
    assert.equal(await copy.count(), 1);
    await copy.click();
    await page().locator('#secret-copied', { hasText: 'Copied' }).waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await page().evaluate(() => navigator.clipboard.readText()), plaintext, 'Copy put the key on the clipboard');
    // Escape does not dismiss the only view of the key by accident.
    await page().keyboard.press('Escape');
    assert.ok(await page().locator('#secret-dialog').isVisible());
    firstPlaintext = await readSecretAndClose();
    assert.equal(firstPlaintext, plaintext);
  });

  await t.test('the new key is in the list', async () => {
    await row(keyId).waitFor({ timeout: UI_TIMEOUT_MS });
    const r = row(keyId);
    assert.equal(await r.locator('.title').textContent(), name);
    assert.equal(await r.locator('.owner').textContent(), `team-${RUN}`);
    assert.equal(await r.locator('.type').textContent(), 'service');
    assert.equal(await r.locator('.badge').textContent(), 'active');
    assert.deepEqual(await r.locator('.chip.tag').allTextContents(), ['#e2e', '#ui']);
    const display = (await r.locator('code.display').textContent()) ?? '';
    assert.ok(display.startsWith('kg_live_') && firstPlaintext.includes(display.slice(8, 12)), `display ${display} is the redacted key`);
    assert.ok(!(await page().content()).includes(firstPlaintext));
  });

  await t.test('pagination with More, and data is rendered as text', async () => {
    const evil = `<img src=x onerror="alert(1)">${RUN}`;
    await Promise.all([
      ...Array.from({ length: PAGE_SIZE + 1 }, (_, i) => adminApi('POST', '/keys', { name: `bulk-${RUN}-${i}`, tags: ['bulk'], type: 'user' })),
      adminApi('POST', '/keys', { name: evil, owner: '<b>owner</b>', tags: ['xss'] }),
    ]);
    await applyFilters({}); // Reset + Apply reloads the list
    await waitRowCount(PAGE_SIZE);
    assert.ok(await page().locator('#more').isVisible(), 'More is offered');
    await page().locator('#more').click();
    await waitRowCount(PAGE_SIZE + 3); // 21 bulk + the xss key + ours
    await waitHidden('#more');
    const ids = await page().locator('tr.key-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key-id')));
    assert.equal(new Set(ids).size, ids.length, 'no row twice across pages');

    await applyFilters({ tag: 'xss' });
    await waitRowCount(1);
    const r = page().locator('tr.key-row');
    assert.equal(await r.locator('.title').textContent(), evil);
    assert.equal(await r.locator('.owner').textContent(), '<b>owner</b>');
    assert.equal(await page().locator('#keys-body img, #keys-body .owner b').count(), 0, 'no markup from data');
    assert.deepEqual(seen.dialogs, []);
  });

  await t.test('filters: search by name, status, type, owner, tag', async () => {
    await applyFilters({ q: name });
    await waitRowCount(1);
    assert.equal(await page().locator('tr.key-row').getAttribute('data-key-id'), keyId);

    await applyFilters({ q: `bulk-${RUN}-1` }); // bulk-1 and bulk-10 .. bulk-19
    await waitRowCount(11);

    await applyFilters({ status: 'active', type: 'service', owner: `team-${RUN}`, tag: 'e2e' });
    await waitRowCount(1);
    assert.equal(await page().locator('tr.key-row').getAttribute('data-key-id'), keyId);

    await applyFilters({ q: `no-such-name-${RUN}` });
    await waitRowCount(0);
    await waitVisible('#keys-empty');

    await applyFilters({ q: name });
    await waitRowCount(1);
  });

  await t.test('usage panel draws a bar per window and the budget', async () => {
    // The panel's rpm bar must still count these four requests: requests, click and read in
    // one minute window (a wide margin: the panel renders in a browser).
    await awayFromMinuteEdge(15_000);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${env.base}/demo/hello`, { headers: { authorization: `Bearer ${firstPlaintext}` } });
      assert.equal(res.status, 200, `proxied request ${i}: ${res.status}`);
      await res.arrayBuffer();
    }
    await row(keyId).locator('button[data-action="usage"]').click();
    const panel = page().locator(`tr.usage-row[data-usage-for="${keyId}"]`);
    await panel.locator('.bar[role="progressbar"]').first().waitFor({ timeout: UI_TIMEOUT_MS });
    const bars = await panel.locator('.bar[role="progressbar"]').evaluateAll((els) =>
      els.map((el) => ({
        label: el.getAttribute('aria-label'),
        now: Number(el.getAttribute('aria-valuenow')),
        max: Number(el.getAttribute('aria-valuemax')),
        width: /** @type {HTMLElement} */ (el.firstElementChild).style.width,
        px: el.firstElementChild?.getBoundingClientRect().width ?? 0,
        full: el.getBoundingClientRect().width,
      })),
    );
    const labels = bars.map((b) => b.label ?? '');
    for (const w of ['rpm', 'rpd', 'tpm', 'tpd', 'budget']) assert.ok(labels.some((l) => l.startsWith(w)), `a ${w} bar in ${labels.join(', ')}`);
    const rpm = bars.find((b) => b.label?.startsWith('rpm'));
    assert.equal(rpm?.max, 10);
    assert.ok((rpm?.now ?? 0) >= 4, `rpm used ${rpm?.now}`);
    assert.equal(Number.parseFloat(rpm?.width ?? ''), (rpm?.now ?? 0) * 10, `rpm bar width ${rpm?.width}`);
    assert.ok((rpm?.px ?? 0) > 0 && (rpm?.px ?? 0) < (rpm?.full ?? 0), 'the rpm bar is partly filled');
    const budget = bars.find((b) => b.label?.startsWith('budget'));
    assert.equal(budget?.max, 5);
    assert.match(await panel.textContent() ?? '', /\$0\.00 \/ \$5\.00/);
  });

  await t.test('charts of requests, tokens and spend, and the recent requests, from the request log', async () => {
    // Request events reach D1 through the local queue (batched for up to 5 s).
    let logged = 0;
    for (let i = 0; i < 60 && logged < 4; i++) {
      await sleep(500);
      logged = (await adminApi('GET', `/keys/${keyId}/logs`)).entries.length;
    }
    assert.ok(logged >= 4, `request log has ${logged} entries`);
    const usageButton = row(keyId).locator('button[data-action="usage"]');
    await usageButton.click(); // close the panel opened above
    await usageButton.click();
    const activity = page().locator(`tr.usage-row[data-usage-for="${keyId}"] .activity`);
    await activity.locator('.log-table tbody tr').first().waitFor({ timeout: UI_TIMEOUT_MS });
    assert.ok((await activity.locator('.log-table tbody tr').count()) >= 4);
    assert.match(await activity.locator('.log-table').textContent() ?? '', /GET \/demo\/hello/);
    const charts = await activity.locator('.chart').evaluateAll((els) => els.map((el) => ({ title: el.getAttribute('data-chart'), canvas: el.querySelector('canvas')?.getBoundingClientRect().width ?? 0 })));
    assert.deepEqual(charts.map((c) => c.title), ['Requests', 'Tokens', 'Spend (USD)']);
    assert.ok(charts.every((c) => c.canvas > 100), `uPlot drew every chart: ${JSON.stringify(charts)}`);
    // The overview was drawn at sign-in, before these requests: Refresh redraws it.
    await page().locator('#overview button', { hasText: 'Refresh' }).click();
    await page().locator('#overview .chart canvas').first().waitFor({ timeout: UI_TIMEOUT_MS });
    assert.match(await page().locator('#overview .top-keys').textContent() ?? '', new RegExp(keyId));
  });

  await t.test('deactivate, then activate', async () => {
    await row(keyId).locator('button[data-action="deactivate"]').click();
    await waitRowStatus(keyId, 'inactive');
    assert.equal(await row(keyId).locator('button[data-action="activate"]').count(), 1);
    assert.equal((await adminApi('GET', `/keys/${keyId}`)).status, 'inactive');
    await row(keyId).locator('button[data-action="activate"]').click();
    await waitRowStatus(keyId, 'active');
    assert.equal((await adminApi('GET', `/keys/${keyId}`)).status, 'active');
  });

  await t.test('rotate shows the new plaintext once and sends an Idempotency-Key', async () => {
    await row(keyId).locator('button[data-action="rotate"]').click();
    await waitVisible('#rotate-dialog[open]');
    assert.match(await text('#rotate-lead'), new RegExp(keyId));
    await page().locator('#rotate-form [name="grace_seconds"]').fill('3600');
    const request = page().waitForRequest((r) => r.url().endsWith(`/admin/keys/${keyId}/rotate`));
    const response = page().waitForResponse((r) => r.url().endsWith(`/admin/keys/${keyId}/rotate`));
    await page().locator('#rotate-form button[type="submit"]').click();
    const req = await request;
    assert.match(req.headers()['idempotency-key'] ?? '', /^ui-[0-9a-f]{32}$/);
    assert.deepEqual(req.postDataJSON(), { grace_seconds: 3600 });
    const res = await response;
    assert.equal(res.status(), 200);
    rotatedId = (await res.json()).id;
    assert.notEqual(rotatedId, keyId);
    await waitVisible('#secret-dialog[open]');
    assert.ok(await page().locator('#signing-secret').isHidden(), 'no signing secret for a key without one');
    const plaintext = await readSecretAndClose();
    assert.match(plaintext, KEY_FORMAT);
    assert.notEqual(plaintext, firstPlaintext);
    await row(rotatedId).waitFor({ timeout: UI_TIMEOUT_MS });
    await waitRowCount(2); // same name: the old key (in its grace period) and the new one
    assert.match((await row(keyId).textContent()) ?? '', new RegExp(`Rotated to ${rotatedId}`));
  });

  await t.test('revoke asks first, needs a reason, and marks the key revoked', async () => {
    const revokeCalls = () => seen.requests.filter((u) => u.endsWith('/revoke')).length;
    // Cancel: nothing is sent.
    await row(rotatedId).locator('button[data-action="revoke"]').click();
    await waitVisible('#revoke-dialog[open]');
    await page().locator('#revoke-dialog [data-close]').click();
    await waitHidden('#revoke-dialog');
    assert.equal(revokeCalls(), 0);
    // Confirm with a reason.
    await row(rotatedId).locator('button[data-action="revoke"]').click();
    await waitVisible('#revoke-dialog[open]');
    assert.match(await text('#revoke-lead'), new RegExp(rotatedId));
    const reason = `e2e: leaked in a test <script>${RUN}</script>`;
    await page().locator('#revoke-form [name="reason"]').fill(reason);
    await page().locator('#revoke-form button[type="submit"]').click();
    await waitRowStatus(rotatedId, 'revoked');
    await waitHidden('#revoke-dialog');
    assert.equal(revokeCalls(), 1);
    assert.equal(await row(rotatedId).locator('.revoked-reason').textContent(), `Revoked: ${reason}`);
    assert.deepEqual(await row(rotatedId).locator('button[data-action]').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action'))), ['usage']);
    const stored = await adminApi('GET', `/keys/${rotatedId}`);
    assert.equal(stored.status, 'revoked');
    assert.equal(stored.revoked_reason, reason);
  });

  await t.test('API errors show code and message', async () => {
    // The form cannot produce an invalid query, so bypass the input's maxlength to send a
    // search longer than the API allows.
    await page().locator('#filters [name="q"]').evaluate((el) => {
      el.removeAttribute('maxlength');
      /** @type {HTMLInputElement} */ (el).value = 'x'.repeat(201);
    });
    await page().locator('#filters button[type="submit"]').click();
    await waitVisible('#error');
    assert.equal(await text('#error .code'), 'validation_failed');
    assert.match(await text('#error'), /q/);
    assert.match(await text('#error .rid'), /request /);
    assert.ok(await page().locator('#app-view').isVisible(), 'a 400 keeps you signed in');
    await applyFilters({ q: name });
    await waitRowCount(2);
    await waitHidden('#error');
  });

  await t.test('screenshot', async () => {
    await row(keyId).locator('button[data-action="usage"]').click();
    await page().locator(`tr.usage-row[data-usage-for="${keyId}"] .bar`).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page().screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
  });

  await t.test("usage panel shows the key's credits and its owner's shared windows", async () => {
    const owner = `e2e-owner-${RUN}`;
    await adminApi('PUT', `/owners/${encodeURIComponent(owner)}`, { limits: { rpm: 50 } });
    const { id } = await adminApi('POST', '/keys', { name: `credits-${RUN}`, owner, credits: { remaining: 7 } });
    await applyFilters({ owner });
    await waitRowCount(1);
    await row(id).locator('button[data-action="usage"]').click();
    const panel = page().locator(`tr.usage-row[data-usage-for="${id}"]`);
    await panel.locator('.bar[role="progressbar"]').first().waitFor({ timeout: UI_TIMEOUT_MS });
    const content = (await panel.textContent()) ?? '';
    assert.match(content, /credits\s*7/);
    assert.match(content, /no refill/);
    assert.ok(content.includes(`Owner ${owner}`), `the owner's section in: ${content}`);
    const labels = await panel.locator('.bar[role="progressbar"]').evaluateAll((els) => els.map((el) => el.getAttribute('aria-label')));
    assert.ok(labels.some((l) => l?.startsWith('rpm')), `the owner's rpm bar in ${labels.join(', ')}`);
    await applyFilters({ q: name });
    await waitRowCount(2);
  });

  await t.test("rotating a key with a signing secret shows the successor's secret once, beside its key", async () => {
    const created = await adminApi('POST', '/keys', { name: `signed-${RUN}`, signing_secret: true });
    assert.match(created.signing_secret, /^kgs_/);
    await applyFilters({ q: `signed-${RUN}` });
    await waitRowCount(1);
    await row(created.id).locator('button[data-action="rotate"]').click();
    await waitVisible('#rotate-dialog[open]');
    const response = page().waitForResponse((r) => r.url().endsWith(`/admin/keys/${created.id}/rotate`));
    await page().locator('#rotate-form button[type="submit"]').click();
    const body = await (await response).json();
    assert.match(body.signing_secret, /^kgs_/);
    assert.notEqual(body.signing_secret, created.signing_secret);
    await waitVisible('#signing-secret');
    assert.equal(await page().locator('#signing-secret-value').inputValue(), body.signing_secret);
    await readSecretAndClose();
    assert.equal(await page().locator('#signing-secret-value').inputValue(), '', 'the signing secret is cleared with the dialog');
    assert.ok(!(await page().content()).includes(body.signing_secret), 'the signing secret is nowhere in the DOM after closing');
    assert.ok(!JSON.stringify(await storage()).includes(body.signing_secret), 'the signing secret is never stored');
    assert.ok(await page().locator('#signing-secret').isHidden());
    await applyFilters({ q: name });
    await waitRowCount(2);
  });

  await t.test('a 401 mid-session returns to the sign-in form', async () => {
    // As if the token were rotated away while the page was open.
    const rotatedAway = (route) =>
      route.fulfill({
        status: 401,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'unauthorized', message: 'Admin credentials are required.', request_id: 'req_e2e' } }),
      });
    await page().route('**/admin/keys**', rotatedAway);
    await page().locator('#filters button[type="submit"]').click();
    await waitVisible('#signin-view');
    assert.equal(await text('#error .code'), 'unauthorized');
    assert.ok(await page().locator('#app-view').isHidden());
    assert.equal(await page().locator('tr.key-row').count(), 0, 'the key list is cleared');
    assert.deepEqual((await storage()).session, {});
    await page().unroute('**/admin/keys**', rotatedAway);
  });

  await t.test('a reload signs out (the credential was never stored); sign out clears the page', async () => {
    await signIn(ADMIN_TOKEN);
    await waitVisible('#app-view');
    await page().reload();
    await waitVisible('#signin-view');
    assert.equal(await page().locator('tr.key-row').count(), 0);
    await signIn(ADMIN_TOKEN);
    await waitVisible('#app-view');
    await page().locator('tr.key-row').first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page().locator('#signout').click();
    await waitVisible('#signin-view');
    assert.deepEqual((await storage()).session, {});
    assert.equal(await page().locator('tr.key-row').count(), 0);
  });

  await t.test('offline and clean: same-origin requests only, no console or CSP errors', async () => {
    const foreign = seen.requests.filter((u) => !u.startsWith(`${env.base}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, []);
    assert.deepEqual(seen.pageErrors, []);
    assert.deepEqual(seen.consoleErrors, []);
    assert.deepEqual(seen.dialogs, []);
  });
});
