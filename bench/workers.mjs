// Building and running the Workers under test: keygate bundled by wrangler exactly as it
// would deploy, the pass-through baseline bundled by esbuild, both run by the Miniflare API
// (workerd) with the same runtime options. Never `wrangler dev` (see platform notes).
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { parse as parseToml } from 'smol-toml';
import { deferredConsumer } from './deferred-consumer.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** wrangler.toml: compatibility date and the [vars] keygate ships with. */
export async function readWranglerConfig() {
  const toml = parseToml(await readFile(join(ROOT, 'wrangler.toml'), 'utf8'));
  const compatibilityDate = String(toml.compatibility_date);
  const flags = /** @type {string[]} */ (toml.compatibility_flags ?? []);
  const vars = /** @type {Record<string, unknown>} */ ({ ...(toml.vars ?? {}) });
  return { compatibilityDate, compatibilityFlags: flags, vars };
}

/**
 * The routes every bench Worker gets, all to `upstreamUrl`: /open is pure auth + proxy (no
 * limits, no revocation marker: no limit-store call); /default keeps the route defaults
 * (instant_revocation: one store call for the marker); /limited adds request windows so high
 * nothing is refused (marker + two counters, still one store call).
 * @param {string} upstreamUrl
 */
export function benchRoutes(upstreamUrl) {
  const HUGE = 1_000_000_000;
  return [
    { path: '/open', upstream: upstreamUrl, instant_revocation: false },
    { path: '/default', upstream: upstreamUrl },
    // Request and token windows (tokens cost 0 without metering, but every window is checked).
    { path: '/limited', upstream: upstreamUrl, limits: { rpm: HUGE, rpd: HUGE, tpm: HUGE, tpd: HUGE } },
    // /open with a signed identity token for the upstream (identity_jwt_rps).
    { path: '/identity', upstream: upstreamUrl, instant_revocation: false, identity_jwt: true },
  ];
}

/**
 * The routes of an A/B or a profile: /open, /default and /limited, which bundles built from
 * older commits understand too (a route field a bundle does not know makes its whole
 * configuration invalid).
 * @param {string} upstreamUrl
 */
export function compareRoutes(upstreamUrl) {
  const known = new Set(['/open', '/default', '/limited']);
  return benchRoutes(upstreamUrl).filter((r) => known.has(r.path));
}

/**
 * The bindings that put keygate on the Upstash store (the bridge + redis-server stack).
 * @param {{ url: string, token: string }} stack
 */
export function upstashBindings(stack) {
  return { UPSTASH_REDIS_REST_URL: stack.url, UPSTASH_REDIS_REST_TOKEN: stack.token };
}

/** `wrangler deploy --dry-run --outdir dist/bench`: the bundle a real deploy would upload. */
export async function bundleKeygate(outdir = join(ROOT, 'dist', 'bench')) {
  const wrangler = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
  const child = spawn(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outdir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: process.env.CI ?? '1' },
  });
  let output = '';
  child.stdout.on('data', (c) => { output += c; });
  child.stderr.on('data', (c) => { output += c; });
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (exit ${code}):\n${output}`);
  return join(outdir, 'index.js');
}

/** The pass-through baseline, bundled the same way wrangler does (esbuild, ESM). */
export async function bundlePassthrough(outfile = join(ROOT, 'dist', 'bench-passthrough', 'index.js'), entry = 'passthrough-worker.mjs') {
  await build({
    entryPoints: [join(ROOT, 'bench', entry)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    outfile,
    // The runtime's own modules (the Durable Object floor imports cloudflare:workers).
    external: ['cloudflare:*'],
    logLevel: 'silent',
  });
  return outfile;
}

/** The EVENTS stand-in of events: 'null' (a wrapped binding: it runs in the gateway's isolate). */
const NULL_QUEUE = {
  name: 'null-queue',
  modules: [
    {
      type: 'ESModule',
      path: 'null-queue.mjs',
      contents: `export default function () {
  return {
    async send(body) { structuredClone(body); },
    async sendBatch(messages) { structuredClone(messages); },
  };
}`,
    },
  ],
};

/**
 * Starts one Worker in its own workerd. Every target gets the same runtime options; only
 * keygate gets storage bindings (KV, D1, the limiter Durable Object).
 * `inspector` opens the V8 inspector on the runtime's own port (bench/profile.mjs).
 * `events`: true gives the EVENTS queue and keygate's own consumer, as wrangler.toml declares
 * them (but handed each batch as it arrives); 'producer' leaves the consumer out (the broker then drops what it gets: to tell
 * sending from consuming apart); 'deferred' gives the queue a stand-in consumer that holds
 * the messages for keygate's own consumer to run after the measurement (deferred-consumer.mjs;
 * the result's `deferred.drain()` does that); 'null' binds EVENTS to a stand-in that takes each
 * sendBatch and copies its messages (structuredClone, as a binding serializes them) and nothing
 * else: keygate's producer alone, without Miniflare's queue broker in the gateway's process.
 * @param {{ scriptPath: string, compatibilityDate: string, compatibilityFlags?: string[], bindings: Record<string, unknown>, storage?: boolean, events?: boolean | 'producer' | 'deferred' | 'null', direct?: boolean, inspector?: boolean }} opts
 */
export async function startWorker({ scriptPath, compatibilityDate, compatibilityFlags = ['nodejs_compat'], bindings, storage = false, events = false, direct = false, inspector = false }) {
  const worker = {
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate,
    compatibilityFlags,
    bindings: /** @type {any} */ (bindings),
    ...(storage
      ? {
          kvNamespaces: ['KEYS'],
          d1Databases: ['DB'],
          durableObjects: { LIMITER: { className: 'LimiterObject', useSQLite: true } },
        }
      : {}),
    ...(events === 'null' ? { wrappedBindings: { EVENTS: 'null-queue' } } : events ? { queueProducers: { EVENTS: { queueName: 'keygate-events' } } } : {}),
    ...(events === true
      ? {
          queueConsumers: {
            // Batches as they arrive, not after wrangler.toml's 5 s: the consumer's work then
            // falls in the bench slice whose requests caused it, not in other targets' slices.
            'keygate-events': { maxBatchSize: 100, maxBatchTimeout: 0, maxRetries: 10, deadLetterQueue: 'keygate-events-dlq' },
            'keygate-events-dlq': { maxBatchSize: 100, maxBatchTimeout: 5 },
          },
        }
      : {}),
    ...(direct ? { unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] } : {}),
  };
  const shared = {
    host: '127.0.0.1',
    port: 0,
    ...(inspector ? { inspectorPort: 0 } : {}),
    // No per-request log round trip to Node, no cf.json download (there is no internet).
    logRequests: false,
    cf: false,
    log: new Log(LogLevel.WARN),
  };
  const deferred = events === 'deferred' ? deferredConsumer() : undefined;
  const companion = deferred ? deferred.relay : events === 'null' ? NULL_QUEUE : undefined;
  const mf = new Miniflare(
    /** @type {any} */ (companion ? { ...shared, workers: [{ name: 'keygate', ...worker }, companion] } : { ...shared, ...worker }),
  );
  const url = await mf.ready;
  // direct: also a socket straight to the Worker, without Miniflare's entry Worker in front
  // (a local-development layer that costs every request the same, and has no counterpart in
  // production).
  const directUrl = direct ? (await mf.unsafeGetDirectURL(companion ? 'keygate' : undefined)).href.replace(/\/$/, '') : undefined;
  const inspectorHost = inspector ? (await mf.getInspectorURL()).host : undefined;
  return { mf, url: url.href.replace(/\/$/, ''), directUrl, inspectorHost, deferred };
}

/**
 * Applies migrations/*.sql in name order to the D1 binding DB, statement by statement.
 * @param {Miniflare} mf
 */
export async function applyMigrations(mf, dir = join(ROOT, 'migrations')) {
  const db = await mf.getD1Database('DB');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  for (const file of files) {
    const sql = await readFile(join(dir, file), 'utf8');
    for (const statement of splitSql(sql)) await db.prepare(statement).run();
  }
  return files;
}

/** Splits a migration file into statements: drops `--` comments, splits on `;` outside quotes. */
export function splitSql(sql) {
  const out = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (quote) {
      cur += ch;
      if (ch === quote) quote = '';
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      cur += '\n';
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    if (ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/**
 * Creates a key through the admin API and returns the plaintext.
 * @param {string} baseUrl
 * @param {string} adminToken
 * @param {Record<string, unknown>} body
 */
/**
 * PUT /admin/owners/{owner}: an owner with limits of its own.
 * @param {string} baseUrl @param {string} adminToken @param {string} owner @param {Record<string, unknown>} body
 */
export async function putOwner(baseUrl, adminToken, owner, body) {
  const res = await fetch(`${baseUrl}/admin/owners/${encodeURIComponent(owner)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`PUT /admin/owners answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
}

export async function createKey(baseUrl, adminToken, body) {
  const res = await fetch(`${baseUrl}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /admin/keys answered ${res.status}: ${text.slice(0, 500)}`);
  const json = JSON.parse(text);
  if (typeof json.key !== 'string') throw new Error('POST /admin/keys: no key in the 201 response');
  return /** @type {{ key: string, id: string }} */ (json);
}

/** A key with a broken checksum: same shape and prefix, rejected before any storage access. */
export function breakChecksum(key) {
  const last = key.at(-1);
  return key.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}
