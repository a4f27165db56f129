// `npm run build:ui` and the bundle check in `npm run check`: the committed admin page bundle
// is the build of src/admin/ui/client, an edit without a rebuild is refused, and a rebuild is
// byte-for-byte the same each time (no timestamps or machine paths).
//
//   node --test test/cli/build-ui.e2e.mjs        (or: npm run test:cli)
//
// Runs on a copy of the files the build reads, so the checkout is never written.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const BUNDLE = 'src/admin/ui/generated/client-bundle.ts';
let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keygate-build-ui-'));
  for (const path of ['package.json', 'tsconfig.client.json', 'scripts/build-ui.mjs', 'src/admin/ui/client', 'src/admin/ui/generated']) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const buildUi = (...args) => spawnSync(process.execPath, [join(dir, 'scripts', 'build-ui.mjs'), ...args], { cwd: dir, encoding: 'utf8' });

test('the committed admin page bundle is the build of src/admin/ui/client', () => {
  const r = buildUi('--check');
  assert.equal(r.status, 0, r.stderr);
});

test('an edit to the client code without npm run build:ui fails the check, and the rebuild passes it', () => {
  const committed = readFileSync(join(dir, BUNDLE), 'utf8');
  appendFileSync(join(dir, 'src/admin/ui/client/main.ts'), "\nconsole.info('edited');\n");
  const stale = buildUi('--check');
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /run npm run build:ui/);
  assert.equal(readFileSync(join(dir, BUNDLE), 'utf8'), committed, 'the check writes nothing');

  assert.equal(buildUi().status, 0);
  const rebuilt = readFileSync(join(dir, BUNDLE), 'utf8');
  assert.ok(rebuilt.includes('console.info(\\"edited\\")'), 'the rebuilt bundle has the edit');
  assert.equal(buildUi('--check').status, 0);
  assert.equal(buildUi().status, 0);
  assert.equal(readFileSync(join(dir, BUNDLE), 'utf8'), rebuilt, 'the same source builds the same bytes');
  assert.ok(!rebuilt.includes(dir) && !rebuilt.includes(ROOT), 'no machine paths in the bundle');
});
