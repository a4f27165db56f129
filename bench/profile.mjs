// `node bench/profile.mjs`: where keygate's hot path spends its CPU, function by function.
//
// Bundles keygate exactly as the bench does (wrangler deploy --dry-run, into dist/prof), runs
// it in workerd through Miniflare with the V8 inspector open, drives load at one target with
// the bench's load generator (autocannon in a worker thread), and records a CPU profile of the
// Worker's isolate over the inspector protocol (Profiler.start/stop). Prints self time per
// function (and the source module it came from, read off esbuild's `// path` comments in the
// bundle), inclusive time, and a per-module summary, in µs per request so runs compare.
//
//   node bench/profile.mjs [--target keygate|bad_key|passthrough|upstash|durable_object|logging] [--duration 10] [--warmup 2]
//                          [--connections 10] [--interval 50] [--top 30] [--isolate core:user:]
//                          [--out dist/prof/keygate.cpuprofile] [--json] [--mode cpu|alloc]
//                          [--bundle dist/other/index.js]
//
// --isolate core:entry profiles Miniflare's own entry Worker, which every request crosses;
// several, comma-separated, are profiled over the same run (each gets its own tables).
// --target logging is the no-limits route with request events on: the EVENTS queue, its
// broker (isolate queues:queue) and keygate's consumer, which writes to D1 (isolate d1:db),
// all in the one workerd process; e.g. --isolate core:user:,queues:queue,d1:db.
// --mode alloc prints bytes allocated per request by function (sampling heap profiler)
// instead of CPU time. --bundle PATH profiles an already built keygate bundle (an older
// commit's `wrangler deploy --dry-run` output, say) instead of building this tree.
// The .cpuprofile written to --out opens in Chrome DevTools (Performance panel) for a flame
// chart. Caveats: the profiler sees JavaScript and the native calls it makes (a Headers
// method, fetch) charged to the calling function; workerd's own C++ work outside JS (HTTP
// parsing, I/O, the event loop) shows up as "(program)" or not at all. Compare the
// pass-through (`--target passthrough`) to see the floor.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startDemoUpstream } from '../scripts/demo-upstream.mjs';
import { startUpstashStack } from '../scripts/upstash-stack.mjs';
import { cpuMeter } from './cpu.mjs';
import { LoadGenerator } from './load.mjs';
import { applyMigrations, breakChecksum, compareRoutes, bundleKeygate, bundlePassthrough, createKey, readWranglerConfig, ROOT, startWorker, upstashBindings } from './workers.mjs';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'keygate' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    interval: { type: 'string', default: '50' },
    top: { type: 'string', default: '30' },
    isolate: { type: 'string', default: 'core:user:' },
    mode: { type: 'string', default: 'cpu' },
    bundle: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const TARGET = args.target;
const MODE = args.mode;
if (!['cpu', 'alloc'].includes(MODE)) throw new Error(`--mode must be cpu or alloc, not ${MODE}`);
if (!['keygate', 'bad_key', 'passthrough', 'upstash', 'durable_object', 'logging'].includes(TARGET)) throw new Error(`--target must be keygate, bad_key, passthrough, upstash, durable_object or logging, not ${TARGET}`);
const ISOLATES = args.isolate.split(',').filter(Boolean);
if (MODE === 'alloc' && ISOLATES.length !== 1) throw new Error('--mode alloc takes one --isolate');
const DURATION_S = Number(args.duration);
const WARMUP_S = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const INTERVAL_US = Number(args.interval);
const TOP = Number(args.top);
const OUT = args.out ?? join(ROOT, 'dist', 'prof', `${TARGET}.cpuprofile`);

const progress = (/** @type {string} */ msg) => process.stderr.write(`[profile] ${msg}\n`);

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
async function cleanup() {
  for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
}

/** A minimal Chrome DevTools Protocol client over one WebSocket. */
async function connectInspector(host, isolate) {
  const list = await (await fetch(`http://${host}/json/list`)).json();
  const entry = list.find((/** @type {any} */ t) => t.id === isolate);
  if (!entry) throw new Error(`no inspector target ${isolate}; have ${list.map((/** @type {any} */ t) => t.id).join(', ')}`);
  const ws = new WebSocket(entry.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 1;
  /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>} */
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`${msg.error.message} (${msg.error.code})`));
    else p.resolve(msg.result);
  });
  return {
    /** @param {string} method @param {Record<string, unknown>} [params] */
    send(method, params = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => ws.close(),
  };
}

/**
 * Source module of each bundle line: esbuild starts every module with a `// path` comment.
 * @param {string} bundle
 */
function moduleIndex(bundle) {
  const lines = bundle.split('\n');
  /** @type {string[]} */
  const byLine = new Array(lines.length);
  let current = '(bundle)';
  const marker = /^\/\/ ((?:src|node_modules|bench|scripts)\/\S+)$/;
  for (let i = 0; i < lines.length; i++) {
    const m = marker.exec(lines[i]);
    if (m) current = m[1].replace(/^node_modules\//, '');
    byLine[i] = current;
  }
  return byLine;
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/**
 * Self and inclusive time per function, in µs.
 * @param {any} profile a CDP Profiler.Profile
 * @param {(url: string, line: number) => string} where
 */
function summarize(profile, where) {
  /** @type {Map<number, any>} */
  const nodes = new Map();
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const n of profile.nodes) {
    nodes.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const label = (/** @type {any} */ f) => `${f.functionName || '(anonymous)'}  ${where(f.url, f.lineNumber)} @${f.lineNumber + 1}`;
  const keyOf = (/** @type {any} */ n) => {
    const f = n.callFrame;
    if (IDLE.has(f.functionName)) return f.functionName;
    if (f.url) return label(f);
    // Native (workerd API) frames are split by their JavaScript caller: `Headers` called by
    // forwardHeaders and by responseHeaders are two rows.
    const p = nodes.get(parent.get(n.id));
    const caller = p && p.callFrame.url ? ` <- ${label(p.callFrame)}` : '';
    return `${f.functionName || '(anonymous)'} [native]${caller}`;
  };
  const moduleOf = (/** @type {any} */ n) => {
    const f = n.callFrame;
    if (IDLE.has(f.functionName)) return f.functionName;
    if (!f.url) return '[native]';
    return where(f.url, f.lineNumber);
  };
  /** @type {Map<string, number>} */ const self = new Map();
  /** @type {Map<string, number>} */ const total = new Map();
  /** @type {Map<string, number>} */ const byModule = new Map();
  let sampled = 0;
  let busy = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the following interval to it.
    const dt = timeDeltas[i + 1] ?? 0;
    if (dt <= 0) continue;
    sampled += dt;
    const leaf = nodes.get(samples[i]);
    const leafKey = keyOf(leaf);
    if (leafKey === '(idle)') continue;
    busy += dt;
    self.set(leafKey, (self.get(leafKey) ?? 0) + dt);
    byModule.set(moduleOf(leaf), (byModule.get(moduleOf(leaf)) ?? 0) + dt);
    const seen = new Set();
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
      const k = keyOf(nodes.get(id));
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  }
  return { self, total, byModule, sampled, busy };
}

async function main() {
  const wrangler = await readWranglerConfig();
  const common = { compatibilityDate: wrangler.compatibilityDate, compatibilityFlags: wrangler.compatibilityFlags };
  const upstream = await startDemoUpstream();
  cleanups.push(() => upstream.close());

  let scriptPath;
  let worker;
  /** The Upstash target's bridge: its request count is the store calls made. */
  let bridge;
  /** @type {Record<string, string>} */
  let headers = {};
  let path = '/bench';
  let expectStatus = 200;
  if (TARGET === 'passthrough') {
    progress('bundling the pass-through Worker');
    scriptPath = await bundlePassthrough(join(ROOT, 'dist', 'prof-passthrough', 'index.js'));
    worker = await startWorker({ ...common, compatibilityFlags: ['nodejs_compat'], scriptPath, bindings: { UPSTREAM: upstream.url }, inspector: true });
    cleanups.push(() => worker.mf.dispose());
  } else {
    if (args.bundle) scriptPath = args.bundle;
    else {
      progress('bundling keygate (wrangler deploy --dry-run --outdir dist/prof)');
      scriptPath = await bundleKeygate(join(ROOT, 'dist', 'prof'));
    }
    const adminToken = randomBytes(24).toString('hex');
    /** @type {Record<string, unknown>} */
    let storeBindings = {};
    if (TARGET === 'upstash') {
      const stack = await startUpstashStack();
      bridge = stack.bridge;
      cleanups.push(() => stack.close());
      storeBindings = upstashBindings(stack);
    }
    worker = await startWorker({
      ...common,
      scriptPath,
      bindings: { ...wrangler.vars, ...storeBindings, ROUTES: compareRoutes(upstream.url), ADMIN_TOKEN: adminToken },
      storage: true,
      events: TARGET === 'logging',
      inspector: true,
    });
    cleanups.push(() => worker.mf.dispose());
    await applyMigrations(worker.mf);
    const created = await createKey(worker.url, adminToken, { name: 'profile' });
    const key = TARGET === 'bad_key' ? breakChecksum(created.key) : created.key;
    headers = { authorization: `Bearer ${key}` };
    path = TARGET === 'upstash' || TARGET === 'durable_object' ? '/limited/bench' : '/open/bench';
    if (TARGET === 'bad_key') expectStatus = 401;
  }
  const url = `${worker.url}${path}`;

  const gen = new LoadGenerator();
  cleanups.push(() => gen.close());
  progress(`warm-up ${WARMUP_S}s against ${url}`);
  if (WARMUP_S > 0) {
    const w = await gen.run({ url, headers, connections: CONNECTIONS, durationS: WARMUP_S, collect: false, expectStatus });
    progress(`warm-up (inspector open, profiler off): ${(w.responses / w.seconds).toFixed(0)} req/s`);
  }

  const cdps = await Promise.all(ISOLATES.map((isolate) => connectInspector(worker.inspectorHost, isolate)));
  for (const cdp of cdps) cleanups.push(() => cdp.close());
  const modules = moduleIndex(await readFile(scriptPath, 'utf8'));
  const where = (/** @type {string} */ u, /** @type {number} */ line) => (u.endsWith('.js') || u.includes('index') ? (modules[line] ?? u) : u);
  if (MODE === 'alloc') return allocationProfile(/** @type {any} */ (cdps[0]), gen, { url, headers, expectStatus }, where);
  for (const cdp of cdps) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: INTERVAL_US });
  }
  progress(`profiling ${ISOLATES.join(', ')} for ${DURATION_S}s, ${CONNECTIONS} connections, sampling every ${INTERVAL_US} µs`);
  for (const cdp of cdps) await cdp.send('Profiler.start');
  bridge?.resetStats();
  const meter = cpuMeter();
  const run = await gen.run({ url, headers, connections: CONNECTIONS, durationS: DURATION_S, collect: false, expectStatus });
  const machine = meter.stop();
  const bridgeCalls = bridge?.stats().httpRequests;
  const profiles = [];
  for (const cdp of cdps) {
    const { profile } = /** @type {{ profile: any }} */ (await cdp.send('Profiler.stop'));
    await cdp.send('Profiler.disable');
    profiles.push(profile);
  }
  if (run.unexpected > 0) progress(`WARNING: ${run.unexpected} responses were not ${expectStatus}: ${JSON.stringify(run.statuses)}`);

  const n = Math.max(1, run.responses);
  const perReq = (/** @type {number} */ us) => us / n;
  const out = [];
  out.push(`target ${TARGET} (${url}): ${run.responses} responses in ${run.seconds.toFixed(1)}s (${(run.responses / run.seconds).toFixed(0)} req/s)`);
  if (machine) {
    const workerdUs = ((machine.cpuSeconds.workerd ?? 0) / n) * 1e6;
    out.push(`workerd process CPU ${workerdUs.toFixed(1)} µs/request (profiler overhead included); other processes used ${(machine.other * 100).toFixed(0)}% of the machine${machine.other > 0.1 ? ' -- DISTURBED, re-run on an idle machine' : ''}`);
  }
  if (bridgeCalls !== undefined) out.push(`store calls (Upstash bridge requests): ${(bridgeCalls / n).toFixed(3)} per response`);
  /** @type {any[]} */
  const json = [];
  for (let i = 0; i < ISOLATES.length; i++) {
    const isolate = ISOLATES[i];
    const profile = profiles[i];
    const file = ISOLATES.length === 1 ? OUT : OUT.replace(/\.cpuprofile$/, `.${isolate.replace(/[^a-z0-9]+/gi, '_')}.cpuprofile`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(profile));
    const s = summarize(profile, where);
    const rows = [...s.self.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP);
    const incl = [...s.total.entries()].filter(([k]) => !IDLE.has(k)).sort((a, b) => b[1] - a[1]).slice(0, TOP);
    const mods = [...s.byModule.entries()].sort((a, b) => b[1] - a[1]);
    out.push('');
    out.push(`== isolate ${isolate}: busy (not idle) ${(s.busy / 1000).toFixed(0)} ms of ${(s.sampled / 1000).toFixed(0)} ms sampled = ${perReq(s.busy).toFixed(1)} µs/request`);
    out.push('');
    out.push('Self time, top functions:');
    out.push(`  ${'µs/req'.padStart(7)} ${'%busy'.padStart(6)}  function  module @bundle-line`);
    for (const [k, us] of rows) out.push(`  ${perReq(us).toFixed(1).padStart(7)} ${((us / s.busy) * 100).toFixed(1).padStart(6)}  ${k}`);
    out.push('');
    out.push('Inclusive time (self + callees), top functions:');
    for (const [k, us] of incl) out.push(`  ${perReq(us).toFixed(1).padStart(7)} ${((us / s.busy) * 100).toFixed(1).padStart(6)}  ${k}`);
    out.push('');
    out.push('Self time by module:');
    for (const [m, us] of mods) out.push(`  ${perReq(us).toFixed(1).padStart(7)} ${((us / s.busy) * 100).toFixed(1).padStart(6)}  ${m}`);
    out.push('');
    out.push(`profile written to ${file} (open in Chrome DevTools)`);
    json.push({
      isolate,
      busy_us_per_request: perReq(s.busy),
      self: rows.map(([k, us]) => ({ fn: k, us_per_request: perReq(us) })),
      modules: mods.map(([m, us]) => ({ module: m, us_per_request: perReq(us) })),
    });
  }
  console.log(out.join('\n'));
  if (args.json) {
    console.log(
      JSON.stringify({
        target: TARGET,
        responses: run.responses,
        rps: run.responses / run.seconds,
        ...(json.length === 1 ? json[0] : { isolates: json }),
      }),
    );
  }
}

/**
 * `--mode alloc`: V8's sampling heap profiler (HeapProfiler.startSampling), counting objects
 * the young- and old-generation GCs already collected too, so it shows what each function
 * allocates per request (garbage included), which is what drives GC work.
 * @param {Awaited<ReturnType<typeof connectInspector>>} cdp
 * @param {LoadGenerator} gen
 * @param {{ url: string, headers: Record<string, string>, expectStatus: number }} target
 * @param {(url: string, line: number) => string} where
 */
async function allocationProfile(cdp, gen, target, where) {
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  progress(`allocation profile of ${args.isolate} for ${DURATION_S}s, ${CONNECTIONS} connections`);
  const run = await gen.run({ url: target.url, headers: target.headers, connections: CONNECTIONS, durationS: DURATION_S, collect: false, expectStatus: target.expectStatus });
  const { profile } = /** @type {{ profile: any }} */ (await cdp.send('HeapProfiler.stopSampling'));
  await cdp.send('HeapProfiler.disable');
  const n = Math.max(1, run.responses);
  /** @type {Map<string, number>} */ const self = new Map();
  /** @type {Map<string, number>} */ const total = new Map();
  let all = 0;
  /** @returns {number} */
  const walk = (/** @type {any} */ node, /** @type {string[]} */ stack) => {
    const f = node.callFrame;
    const key = f.url ? `${f.functionName || '(anonymous)'}  ${where(f.url, f.lineNumber)} @${f.lineNumber + 1}` : `${f.functionName || '(anonymous)'} [native]`;
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    all += node.selfSize;
    let sum = node.selfSize;
    for (const c of node.children ?? []) sum += walk(c, [...stack, key]);
    if (!stack.includes(key)) total.set(key, (total.get(key) ?? 0) + sum);
    return sum;
  };
  walk(profile.head, []);
  const out = [];
  out.push(`target ${TARGET} (${target.url}), isolate ${args.isolate}: ${run.responses} responses in ${run.seconds.toFixed(1)}s`);
  out.push(`allocated (sampled, garbage included) ${(all / n).toFixed(0)} bytes/request`);
  out.push('');
  out.push('Self allocation, top functions (bytes/request):');
  for (const [k, b] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP)) out.push(`  ${(b / n).toFixed(0).padStart(7)}  ${k}`);
  out.push('');
  out.push('Inclusive allocation, top functions (bytes/request):');
  for (const [k, b] of [...total.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP)) out.push(`  ${(b / n).toFixed(0).padStart(7)}  ${k}`);
  console.log(out.join('\n'));
}

try {
  await main();
} catch (err) {
  progress(`failed: ${/** @type {Error} */ (err).stack ?? err}`);
  await cleanup();
  process.exit(1);
}
await cleanup();
process.exit(0);
