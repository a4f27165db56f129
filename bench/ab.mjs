// A/B comparison of two keygate bundles on the bench's pure auth + proxy route, with the
// pass-through Worker as the yardstick: three fresh workerd processes, one load generator,
// slices interleaved round-robin so drift and outside load hit all three alike.
//
//   node bench/ab.mjs --a dist/a/index.js [--b dist/b/index.js] [--a-flags x,y] [--b-flags x,y]
//                     [--duration 20] [--warmup 2] [--connections 10] [--route open|limited] [--upstash] [--bad-key] [--direct]
//
// --route limited measures the route with the revocation marker and two request windows (one
// limit-store call per request): on the Durable Object store, or with --upstash on the
// Upstash store (redis-server + the bridge on loopback). --bad-key sends keys with a broken
// checksum (401s) to A and B. --direct loads all three through direct sockets, without
// Miniflare's entry Worker (a local layer that adds the same cost to every request).
// Without --b, B is this tree, bundled as `wrangler deploy --dry-run` would. Flags default to
// wrangler.toml's compatibility flags. Build A from another commit with
//   git worktree add /tmp/a <commit> && (cd /tmp/a && npm ci && npx wrangler deploy --dry-run --outdir dist/a)
// Prints req/s, ratio to the pass-through and workerd CPU per request for each; the CPU
// figure is the one to compare (workerd is the bottleneck on a small machine).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startDemoUpstream } from '../scripts/demo-upstream.mjs';
import { startUpstashStack } from '../scripts/upstash-stack.mjs';
import { LoadGenerator } from './load.mjs';
import { measureAll } from './measure.mjs';
import { applyMigrations, breakChecksum, compareRoutes, bundleKeygate, bundlePassthrough, createKey, readWranglerConfig, ROOT, startWorker, upstashBindings } from './workers.mjs';
import { join } from 'node:path';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    'a-flags': { type: 'string' },
    'b-flags': { type: 'string' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    route: { type: 'string', default: 'open' },
    upstash: { type: 'boolean', default: false },
    'bad-key': { type: 'boolean', default: false },
    direct: { type: 'boolean', default: false },
  },
});
if (!args.a) {
  console.error('usage: node bench/ab.mjs --a BUNDLE [--b BUNDLE] [--duration 20]');
  process.exit(2);
}

const progress = (/** @type {string} */ msg) => process.stderr.write(`[ab] ${msg}\n`);
/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
const cleanup = async () => {
  for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
};

try {
  const wrangler = await readWranglerConfig();
  const flags = (/** @type {string | undefined} */ list) => (list ? list.split(',') : wrangler.compatibilityFlags);
  const bScript = args.b ?? (progress('bundling this tree'), await bundleKeygate(join(ROOT, 'dist', 'ab')));
  const ptScript = await bundlePassthrough();
  const upstream = await startDemoUpstream();
  cleanups.push(() => upstream.close());

  const adminToken = randomBytes(24).toString('hex');
  /** @type {Record<string, unknown>} */
  let store = {};
  if (args.upstash) {
    const stack = await startUpstashStack();
    cleanups.push(() => stack.close());
    store = upstashBindings(stack);
  }
  const bindings = { ...wrangler.vars, ...store, ROUTES: compareRoutes(upstream.url), ADMIN_TOKEN: adminToken };
  const route = `/${args.route}`;
  const common = { compatibilityDate: wrangler.compatibilityDate };
  const [pt, a, b] = await Promise.all([
    startWorker({ ...common, scriptPath: ptScript, bindings: { UPSTREAM: upstream.url }, direct: args.direct }),
    startWorker({ ...common, compatibilityFlags: flags(args['a-flags']), scriptPath: args.a, bindings, storage: true, direct: args.direct }),
    startWorker({ ...common, compatibilityFlags: flags(args['b-flags']), scriptPath: bScript, bindings, storage: true, direct: args.direct }),
  ]);
  const served = (/** @type {{ url: string, directUrl?: string }} */ w) => (args.direct ? (w.directUrl ?? w.url) : w.url);
  for (const w of [pt, a, b]) cleanups.push(() => w.mf.dispose());
  await Promise.all([applyMigrations(a.mf), applyMigrations(b.mf)]);
  const [ka, kb] = await Promise.all([createKey(a.url, adminToken, { name: 'ab-a' }), createKey(b.url, adminToken, { name: 'ab-b' })]);

  const gen = new LoadGenerator();
  cleanups.push(() => gen.close());
  const bearer = (/** @type {string} */ key) => ({ authorization: `Bearer ${args['bad-key'] ? breakChecksum(key) : key}` });
  const expectStatus = args['bad-key'] ? 401 : 200;
  const r = await measureAll(
    gen,
    [
      { key: 'passthrough', label: 'pass-through', url: `${served(pt)}/bench`, headers: bearer(ka.key) },
      { key: 'a', label: 'A', url: `${served(a)}${route}/bench`, headers: bearer(ka.key), expectStatus },
      { key: 'b', label: 'B', url: `${served(b)}${route}/bench`, headers: bearer(kb.key), expectStatus },
    ],
    { connections: Number(args.connections), durationS: Number(args.duration), warmupS: Number(args.warmup) },
  );
  const base = r.passthrough;
  const rows = [['target', 'req/s', 'vs pass', 'p50 ms', 'p99 ms', 'workerd us/req']];
  for (const [label, x] of [['pass-through', base], [`A ${args.a}`, r.a], [`B ${args.b ?? '(this tree)'}`, r.b]]) {
    rows.push([label, x.rps.toFixed(0), (x.rps / base.rps).toFixed(3), x.latency.p50.toFixed(2), x.latency.p99.toFixed(2), x.cpu?.usPerRequest.workerd?.toFixed(1) ?? '-']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) console.log(row.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
  const cpuA = r.a.cpu?.usPerRequest.workerd ?? NaN;
  const cpuB = r.b.cpu?.usPerRequest.workerd ?? NaN;
  console.log(`B vs A: req/s ${((r.b.rps / r.a.rps - 1) * 100).toFixed(1)}%, workerd CPU/request ${((cpuB / cpuA - 1) * 100).toFixed(1)}%`);
} finally {
  await cleanup();
}
process.exit(0);
