// `npm run check` (scripts/check-config.mjs) as a user runs it: the config message and exit
// codes, and the warning for token limits that cannot bind.
//
//   node --test test/cli/check-config.e2e.mjs        (or: npm run test:cli)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** @param {string} toml */
function check(toml) {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-check-'));
  try {
    writeFileSync(join(dir, 'wrangler.toml'), toml);
    return spawnSync(process.execPath, [join(ROOT, 'scripts', 'check-config.mjs'), '--config', join(dir, 'wrangler.toml')], { cwd: ROOT, encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const route = (extra) => `[[vars.ROUTES]]\npath = "/llm"\nupstream = "https://api.example.com"\n${extra}\n`;

test('token limits on a route without metering are reported: they can never bind', () => {
  const r = check(route('limits = { rpm = 10, tpm = 1000 }\nmodel_limits = { "gpt-4o" = { rpm = 1, tpd = 50 } }'));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), 'warning: route /llm: limits.tpm, model_limits."gpt-4o".tpd never bind: token limits need `metering` on the route');
});

test('request limits, and token limits on a metered route, draw no warning', () => {
  const r = check(route('limits = { rpm = 10, tpm = 100000 }\nmodel_limits = { "gpt-4o" = { rpm = 1, tpd = 5000 } }\nmetering = { format = "openai" }'));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(check(route('limits = { rpm = 10 }\nmodel_limits = { "gpt-4o" = { rpm = 1 } }')).stderr, '');
});

test('a token limit below the route\'s default reservation is reported: requests without a maximum would all be refused', () => {
  const r = check(route('limits = { tpm = 1000 }\nmodel_limits = { "gpt-4o" = { tpd = 50 } }\nmetering = { format = "openai" }'));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), 'warning: route /llm: limits.tpm (1000), model_limits."gpt-4o".tpd (50) below metering.default_reservation (1024): a request that sets no output maximum (max_tokens) is refused');
  const header = check(route('limits = { tpm = 1000 }\nmetering = { format = "header", header = "x-usage", default_reservation = 2000 }'));
  assert.equal(header.stderr.trim(), 'warning: route /llm: limits.tpm (1000) below metering.default_reservation (2000): every request is refused');
  assert.equal(check(route('limits = { tpm = 1000 }\nmetering = { format = "header", header = "x-usage", default_reservation = 500 }')).stderr, '');
});

test('an invalid config exits 1 with config_invalid naming the field', () => {
  const r = check(route('budget = { usd = 5 }'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^config_invalid: ROUTES\[0\]\.budget\.period: /);
});
