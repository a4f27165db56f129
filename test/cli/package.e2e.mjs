// The npm package is the CLI: `npm pack` holds bin/ and cli/ (and nothing of the Worker), and
// the unpacked CLI runs outside the clone.
//
//   node --test test/cli/package.e2e.mjs        (or: npm run test:cli)

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

test('package.json is ready to publish: not private, a bin, and a files list', () => {
  assert.equal(pkg.private, undefined);
  assert.deepEqual(pkg.bin, { keygate: 'bin/keygate.mjs' });
  assert.ok(Array.isArray(pkg.files) && pkg.files.length > 0);
});

test('the packed CLI runs from outside the clone, with no dependency installed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-pack-'));
  try {
    const [info] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const files = info.files.map((/** @type {{ path: string }} */ f) => f.path).sort();
    assert.ok(files.includes('bin/keygate.mjs') && files.includes('cli/commands.mjs'), files.join(', '));
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/')), files.join(', '));

    execFileSync('tar', ['xzf', join(dir, info.filename), '-C', dir]);
    const env = { ...process.env, KEYGATE_URL: '', KEYGATE_ADMIN_TOKEN: '' };
    const version = spawnSync(process.execPath, [join(dir, 'package', 'bin', 'keygate.mjs'), '--version'], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);
    const list = spawnSync(process.execPath, [join(dir, 'package', 'bin', 'keygate.mjs'), 'keys', 'list'], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(list.status, 2);
    assert.equal(list.stderr.trim(), 'error: usage_error: no gateway URL: set KEYGATE_URL or pass --url');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
