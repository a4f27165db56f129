// `npm run bench`: keygate's hot-path throughput and latency against a bare pass-through
// Worker and the upstream itself, all in one run on this machine, plus storage reads and
// limit-store round trips per request. See the header of each module in bench/.
//
//   node bench/run.mjs [--json] [--duration 10] [--warmup 1] [--connections 10] [--samples 200]
//                      [--serial-duration 3] [--wait-idle SECONDS] [--baseline BUNDLE [--baseline-flags a,b]]
//
// --baseline BUNDLE adds a target "keygate, baseline bundle": another keygate build (say the
// `wrangler deploy --dry-run --outdir` output of an older commit) measured interleaved with
// this tree's, for an A/B comparison within one run (its JSON keys: baseline_*). It runs with
// wrangler.toml's compatibility flags unless --baseline-flags lists others.
//
// Always exits 0 once it has measured (the bench reports; tests gate). Missed targets are
// printed as MISS and carried in the JSON line (`--json`: the last line of stdout).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemoUpstream } from '../scripts/demo-upstream.mjs';
import { startUpstashStack } from '../scripts/upstash-stack.mjs';
import { backgroundLoad } from './cpu.mjs';
import { LoadGenerator } from './load.mjs';
import { measureAll } from './measure.mjs';
import { bridgeRoundTrip, probeOnce, sampleServerTiming, sendExactly, storeProbeBody } from './probes.mjs';
import { round } from './stats.mjs';
import { applyMigrations, benchRoutes, breakChecksum, bundleKeygate, bundlePassthrough, createKey, readWranglerConfig, ROOT, startWorker, upstashBindings } from './workers.mjs';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '10' },
    samples: { type: 'string', default: '200' },
    'serial-duration': { type: 'string', default: '3' },
    'wait-idle': { type: 'string', default: '0' },
    baseline: { type: 'string' },
    'baseline-flags': { type: 'string' },
  },
});
const DURATION_S = Number(args.duration);
const WARMUP_S = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const SAMPLES = Number(args.samples);
const SERIAL_S = Number(args['serial-duration']);
const WAIT_IDLE_S = Number(args['wait-idle']);
for (const [name, v] of Object.entries({ DURATION_S, WARMUP_S, CONNECTIONS, SAMPLES, SERIAL_S, WAIT_IDLE_S })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad value for ${name}: ${v}`);
}
if (DURATION_S === 0 || !Number.isInteger(CONNECTIONS) || CONNECTIONS < 1 || !Number.isInteger(SAMPLES) || SAMPLES < 1) {
  throw new Error('--duration must be > 0, --connections and --samples positive integers');
}

/** Above this share of the machine used by other processes, figures are flagged as disturbed. */
const IDLE_THRESHOLD = 0.1;

/** Progress goes to stderr so stdout holds only the table and the JSON line. */
const progress = (/** @type {string} */ msg) => process.stderr.write(`[bench] ${msg}\n`);

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
let cleaning = false;
async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      progress(`cleanup: ${/** @type {Error} */ (err).message}`);
    }
  }
}
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(sig, () => {
    progress(`${sig}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}


async function main() {
  const started = performance.now();
  const wrangler = await readWranglerConfig();

  progress('bundling keygate (wrangler deploy --dry-run) and the pass-through Worker (esbuild)');
  const keygateScript = await bundleKeygate();
  const passthroughScript = await bundlePassthrough();
  const probeScript = await bundlePassthrough(join(ROOT, 'dist', 'bench-store-probe', 'index.js'), 'store-probe-worker.mjs');
  const floorScript = await bundlePassthrough(join(ROOT, 'dist', 'bench-refusal-floor', 'index.js'), 'refusal-floor-worker.mjs');

  const upstream = await startDemoUpstream();
  cleanups.push(() => upstream.close());
  progress(`demo upstream on ${upstream.url}`);
  const stack = await startUpstashStack();
  cleanups.push(() => stack.close());
  progress(`redis-server + Upstash bridge on ${stack.url}`);

  const adminToken = randomBytes(24).toString('hex');
  const keygateBindings = { ...wrangler.vars, ROUTES: benchRoutes(upstream.url), ADMIN_TOKEN: adminToken };
  // keygate runs with wrangler.toml's flags, as deployed; the pass-through with nodejs_compat.
  const common = { compatibilityDate: wrangler.compatibilityDate };
  const deployed = { ...common, compatibilityFlags: wrangler.compatibilityFlags };

  progress('starting workerd (Miniflare): pass-through, keygate (Durable Object store), keygate (Upstash store), refusal floor');
  const [pt, kg, kgu, floor] = await Promise.all([
    startWorker({ ...common, scriptPath: passthroughScript, bindings: { UPSTREAM: upstream.url }, direct: true }),
    startWorker({ ...deployed, scriptPath: keygateScript, bindings: keygateBindings, storage: true, direct: true }),
    startWorker({
      ...deployed,
      scriptPath: keygateScript,
      bindings: { ...keygateBindings, ...upstashBindings(stack) },
      storage: true,
    }),
    startWorker({ ...common, scriptPath: floorScript, bindings: {} }),
  ]);
  for (const w of [pt, kg, kgu, floor]) cleanups.push(() => w.mf.dispose());
  const base = args.baseline ? await startWorker({ ...deployed, ...(args['baseline-flags'] ? { compatibilityFlags: args['baseline-flags'].split(',') } : {}), scriptPath: args.baseline, bindings: keygateBindings, storage: true }) : null;
  if (base) {
    cleanups.push(() => base.mf.dispose());
    await applyMigrations(base.mf);
  }
  const baseKey = base ? await createKey(base.url, adminToken, { name: 'bench-baseline' }) : null;

  await Promise.all([applyMigrations(kg.mf), applyMigrations(kgu.mf)]);
  const [loadKey, sampleKey, upstashKey] = await Promise.all([
    createKey(kg.url, adminToken, { name: 'bench-load' }),
    createKey(kg.url, adminToken, { name: 'bench-sample' }),
    createKey(kgu.url, adminToken, { name: 'bench-upstash' }),
  ]);
  const auth = (/** @type {string} */ key) => ({ authorization: `Bearer ${key}` });
  const badKey = breakChecksum(loadKey.key);
  // Everyone gets the same kind of request; direct and pass-through ignore the header.
  const PATH = '/bench';

  // --- Storage reads per request (Server-Timing `key;desc=memory|kv|d1`) -------------------
  // A fresh key: its first lookup misses the isolate cache (the admin write dropped it);
  // the samples right after it are the warm path.
  progress(`lookup sources: 1 cold + ${SAMPLES} warm sequential requests`);
  const cold = await probeOnce(`${kg.url}/open${PATH}`, auth(sampleKey.key));
  const warm = await sampleServerTiming(`${kg.url}/open${PATH}`, auth(sampleKey.key), SAMPLES);
  const coldSource = cold.entries.find((e) => e.name === 'key')?.desc ?? 'none';

  // --- Throughput runs --------------------------------------------------------------------
  const gen = new LoadGenerator();
  cleanups.push(() => gen.close());
  let idle = await backgroundLoad(1000);
  const waitUntil = Date.now() + WAIT_IDLE_S * 1000;
  while (idle && idle.other > IDLE_THRESHOLD && Date.now() < waitUntil) {
    progress(`other processes use ${(idle.other * 100).toFixed(0)}% of the machine: waiting for it to go idle (--wait-idle)`);
    idle = await backgroundLoad(2000);
  }
  if (idle) progress(`before start: other processes use ${(idle.other * 100).toFixed(0)}% of the machine`);

  // Bridge requests per admitted request under load, summed over the Upstash slices. Requests
  // still in flight when a slice stops reach the bridge but are not counted as responses, so
  // this can read slightly high; the exact figure comes from the awaited batch below.
  const underLoad = { bridge: 0, admitted: 0 };
  /** @type {Target[]} */
  const targets = [
    { key: 'upstream', label: 'a. upstream direct', url: `${upstream.url}${PATH}`, headers: auth(loadKey.key) },
    { key: 'passthrough', label: 'b. pass-through Worker', url: `${pt.url}${PATH}`, headers: auth(loadKey.key) },
    { key: 'keygate', label: 'c. keygate (no limits, no marker)', url: `${kg.url}/open${PATH}`, headers: auth(loadKey.key) },
    ...(base && baseKey ? [{ key: 'baseline', label: 'c0. keygate, baseline bundle', url: `${base.url}/open${PATH}`, headers: auth(baseKey.key) }] : []),
    { key: 'bad_key', label: 'd. keygate bad-checksum key (401)', url: `${kg.url}/open${PATH}`, headers: auth(badKey), expectStatus: 401 },
    { key: 'refusal_floor', label: 'h. floor: Worker with a fixed 401', url: `${floor.url}/open${PATH}`, headers: auth(badKey), expectStatus: 401 },
    // The same three without Miniflare's entry Worker in front (direct sockets): what the
    // Worker itself costs, without the ~130 µs per request that local layer adds to all.
    { key: 'direct_passthrough', label: 'b2. pass-through, direct socket', url: `${pt.directUrl}${PATH}`, headers: auth(loadKey.key) },
    { key: 'direct_keygate', label: 'c2. keygate, direct socket', url: `${kg.directUrl}/open${PATH}`, headers: auth(loadKey.key) },
    { key: 'direct_bad_key', label: 'd2. keygate bad key, direct socket', url: `${kg.directUrl}/open${PATH}`, headers: auth(badKey), expectStatus: 401 },
    { key: 'keygate_default', label: 'g. keygate default route (DO marker)', url: `${kg.url}/default${PATH}`, headers: auth(loadKey.key) },
    { key: 'durable_object', label: 'e. keygate limits, Durable Object', url: `${kg.url}/limited${PATH}`, headers: auth(loadKey.key) },
    {
      key: 'upstash',
      label: 'f. keygate limits, Upstash',
      url: `${kgu.url}/limited${PATH}`,
      headers: auth(upstashKey.key),
      beforeSlice: () => stack.bridge.resetStats(),
      afterSlice: async (r) => {
        await new Promise((res) => setTimeout(res, 100));
        underLoad.bridge += stack.bridge.stats().httpRequests;
        underLoad.admitted += r.statuses[200] ?? 0;
      },
    },
  ];
  const results = await measureAll(gen, targets, { connections: CONNECTIONS, durationS: DURATION_S, warmupS: WARMUP_S });
  const underLoadBridge = underLoad.bridge;
  const underLoadAdmitted = underLoad.admitted;

  // Exact: N requests, `connections` in flight, every one awaited.
  const exactN = Math.max(SAMPLES, 400);
  stack.bridge.resetStats();
  const exact = await sendExactly(`${kgu.url}/limited${PATH}`, auth(upstashKey.key), exactN, CONNECTIONS);
  const exactStats = stack.bridge.stats();

  // The store probe replays keygate's own admission command (the last /pipeline request the
  // bridge saw came from the batch above): one store round trip doing exactly the store work
  // of an admission, made by a Worker. A trivial script stands in if there was none.
  const admissionBody = stack.bridge.lastPipeline();
  const probeReplaysAdmission = admissionBody !== null;
  progress(`starting the store probe Worker (${probeReplaysAdmission ? "replaying keygate's admission command" : 'a trivial script'})`);
  const probe = await startWorker({
    ...common,
    scriptPath: probeScript,
    bindings: { STORE_URL: stack.url, STORE_TOKEN: stack.token, STORE_BODY: admissionBody ?? (await storeProbeBody(stack)) },
  });
  cleanups.push(() => probe.mf.dispose());

  // --- Unloaded latency: one connection, for the added-latency analysis --------------------
  /** @type {Record<string, any>} */
  let serial = {};
  if (SERIAL_S > 0) {
    const serialKeys = ['passthrough', 'keygate', 'durable_object', 'upstash'];
    // The store probe: the same Worker answering with and without one store round trip.
    const probes = [
      { key: 'probe_store', label: 'store probe, one round trip', url: `${probe.url}/p?store=1` },
      { key: 'probe_none', label: 'store probe, none', url: `${probe.url}/p` },
    ];
    serial = await measureAll(
      gen,
      [...targets.filter((t) => serialKeys.includes(t.key)).map((t) => ({ ...t, beforeSlice: undefined, afterSlice: undefined })), ...probes],
      { connections: 1, durationS: SERIAL_S, warmupS: 0.5 },
    );
  }

  // --- One store round trip, measured directly from Node (idle machine) --------------------
  progress('bridge round trip: /pipeline with one EVALSHA, sequential');
  const rtt = await bridgeRoundTrip(stack);
  // The same with three commands in the one request (for comparison with one).
  const rtt3 = await bridgeRoundTrip(stack, { commands: 3, warmup: 100, n: 500 });

  await cleanup();
  const totalS = (performance.now() - started) / 1000;
  return report({ results, serial, warm, coldSource, rtt, exact, exactStats, underLoadBridge, underLoadAdmitted, totalS, idle, rtt3, probeReplaysAdmission });
}

/** @param {any} m */
function report(m) {
  const { results: r, serial: s, warm, rtt } = m;
  const rps = (/** @type {string} */ k) => r[k].rps;
  const p50 = (/** @type {string} */ k) => r[k].latency.p50;
  const ratio = rps('keygate') / rps('passthrough');
  const redisRoundTrips = m.exact.ok > 0 ? m.exactStats.httpRequests / m.exact.ok : Number.NaN;
  const redisUnderLoad = m.underLoadAdmitted > 0 ? m.underLoadBridge / m.underLoadAdmitted : Number.NaN;
  const limitsOverhead = p50('upstash') - p50('keygate');
  const serialOverhead = s.upstash && s.keygate ? s.upstash.latency.p50 - s.keygate.latency.p50 : Number.NaN;
  // One store round trip as a Worker makes it (the probe Worker with and without one, both
  // unloaded); without the serial phase, Node's own round trip to the bridge stands in.
  const workerRtt = s.probe_store && s.probe_none ? s.probe_store.latency.p50 - s.probe_none.latency.p50 : Number.NaN;
  const roundTrip = Number.isFinite(workerRtt) ? workerRtt : rtt.p50;
  const overheadBudget = roundTrip + 0.2;
  // Latency a request gains: measured unloaded (one connection). Under load the p50s mostly
  // measure queueing, i.e. throughput on this machine's shared cores.
  const overheadMeasured = Number.isFinite(serialOverhead) ? serialOverhead : limitsOverhead;

  const targets = {
    ratio_ge_0_8: ratio >= 0.8,
    bad_key_rps_ge_2x_keygate: rps('bad_key') >= 2 * rps('keygate'),
    zero_kv_reads_warm: warm.kvReadsPerRequest === 0,
    zero_d1_reads_warm: warm.d1ReadsPerRequest === 0,
    redis_round_trips_eq_1: redisRoundTrips === 1 && m.exact.ok === m.exact.sent,
    limits_overhead_le_round_trip: overheadMeasured <= overheadBudget,
  };
  const targetText = {
    ratio_ge_0_8: `keygate/pass-through throughput ${round(ratio, 3)} (>= 0.8)`,
    bad_key_rps_ge_2x_keygate: `bad-key ${round(rps('bad_key'), 0)} req/s vs 2 x keygate ${round(2 * rps('keygate'), 0)} req/s`,
    zero_kv_reads_warm: `KV reads per warm request ${round(warm.kvReadsPerRequest, 4)} (== 0)`,
    zero_d1_reads_warm: `D1 reads per warm request ${round(warm.d1ReadsPerRequest, 4)} (== 0)`,
    redis_round_trips_eq_1: `bridge HTTP requests per admitted request ${round(redisRoundTrips, 4)} (== 1; ${m.exact.ok}/${m.exact.sent} admitted)`,
    limits_overhead_le_round_trip: `${Number.isFinite(serialOverhead) ? 'unloaded ' : ''}p50 limits (Upstash) - p50 no limits = ${round(overheadMeasured, 3)} ms (<= one store round trip ${Number.isFinite(workerRtt) ? 'from a Worker' : 'from Node'} ${round(roundTrip, 3)} + 0.2 = ${round(overheadBudget, 3)} ms)`,
  };

  const rows = [
    ['a. upstream direct', 'upstream'],
    ['b. pass-through Worker', 'passthrough'],
    ['c. keygate (no limits, no marker)', 'keygate'],
    ...(r.baseline ? [['c0. keygate, baseline bundle', 'baseline']] : []),
    ['d. keygate bad-checksum key (401)', 'bad_key'],
    ['h. floor: Worker with a fixed 401', 'refusal_floor'],
    ['b2. pass-through, direct socket', 'direct_passthrough'],
    ['c2. keygate, direct socket', 'direct_keygate'],
    ['d2. keygate bad key, direct socket', 'direct_bad_key'],
    ['g. keygate default route (DO marker)', 'keygate_default'],
    ['e. keygate limits, Durable Object', 'durable_object'],
    ['f. keygate limits, Upstash', 'upstash'],
  ];
  const lines = [];
  lines.push('');
  lines.push(`keygate bench: ${CONNECTIONS} connections, ${WARMUP_S}s warm-up + ${DURATION_S}s per target, workerd via Miniflare, ${m.totalS.toFixed(0)}s total`);
  lines.push('');
  const head = ['target', 'req/s', 'vs pass', 'p50 ms', 'p99 ms', 'workerd us/req', 'node us/req', 'redis us/req', 'store ms', 'upstr ms', 'store/req', 'other CPU'];
  const table = [head];
  for (const [label, k] of rows) {
    const x = r[k];
    const t = x.timing;
    const avg = (/** @type {string} */ name) => (t.entries[name] ? (t.entries[name].totalMs / t.entries[name].count).toFixed(2) : '-');
    table.push([
      label,
      x.rps.toFixed(0),
      (x.rps / rps('passthrough')).toFixed(2),
      x.latency.p50.toFixed(2),
      x.latency.p99.toFixed(2),
      x.cpu?.usPerRequest.workerd?.toFixed(0) ?? '-',
      x.cpu?.usPerRequest.node?.toFixed(0) ?? '-',
      x.cpu?.usPerRequest['redis-server']?.toFixed(0) ?? '-',
      avg('store'),
      avg('upstream'),
      t.responses ? ((t.entries.store?.count ?? 0) / t.responses).toFixed(2) : '-',
      x.cpu ? `${(x.cpu.other * 100).toFixed(0)}%` : '-',
    ]);
  }
  const widths = head.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const [i, row] of table.entries()) {
    lines.push(row.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  lines.push('  us/req: CPU time per response of the Worker\'s workerd, of node (load generator, demo upstream, Upstash bridge) and of redis-server;');
  lines.push('  store/upstr ms: mean Server-Timing durations inside the Worker (workerd clocks advance only on I/O); store/req: limit-store calls per response;');
  lines.push('  other CPU: share of the machine used by processes outside this bench while the target ran');
  const noisy = rows.filter(([, k]) => (r[k].cpu?.other ?? 0) > IDLE_THRESHOLD).map(([label]) => label.split('.')[0]);
  if (noisy.length || (m.idle && m.idle.other > IDLE_THRESHOLD)) {
    lines.push(`  WARNING: other processes were busy (before start: ${m.idle ? (m.idle.other * 100).toFixed(0) : '?'}%; targets ${noisy.join(', ') || '-'} above 10%): figures are disturbed, re-run on an idle machine`);
  }
  lines.push('');
  if (s.keygate) {
    lines.push('Unloaded (1 connection) p50 ms:');
    for (const [label, k] of [
      ['pass-through', 'passthrough'],
      ['keygate no limits', 'keygate'],
      ['keygate limits, Durable Object', 'durable_object'],
      ['keygate limits, Upstash', 'upstash'],
      ['store probe Worker, no store call', 'probe_none'],
      ['store probe Worker, 1 round trip', 'probe_store'],
    ]) {
      const x = s[k];
      lines.push(`  ${label.padEnd(34)} ${x.latency.p50.toFixed(3).padStart(7)}  (${x.rps.toFixed(0)} req/s)`);
    }
    lines.push(`  one store round trip from a Worker: ${workerRtt.toFixed(3)} ms (probe with - probe without; the probe sends ${m.probeReplaysAdmission ? "keygate's own admission command" : 'a trivial script'})`);
    lines.push(`  Upstash limits overhead, unloaded: ${serialOverhead.toFixed(3)} ms (${serialOverhead <= overheadBudget ? 'within' : 'over'} one store round trip + 0.2 ms = ${overheadBudget.toFixed(3)} ms)`);
  }
  lines.push(`Bridge round trip from Node (/pipeline, 1 EVALSHA): p50 ${rtt.p50.toFixed(3)} ms, p99 ${rtt.p99.toFixed(3)} ms; with 3 EVALSHAs in it: p50 ${m.rtt3.p50.toFixed(3)} ms`);
  const directCpu = (/** @type {string} */ k) => r[k].cpu?.usPerRequest.workerd ?? Number.NaN;
  lines.push(
    `Without Miniflare's entry Worker (direct sockets): keygate/pass-through ${round(rps('direct_keygate') / rps('direct_passthrough'), 3)}, keygate adds ${round(directCpu('direct_keygate') - directCpu('direct_passthrough'), 0)} µs of workerd CPU per request (${round(directCpu('direct_passthrough'), 0)} -> ${round(directCpu('direct_keygate'), 0)}); bad key ${round(rps('direct_bad_key') / rps('direct_keygate'), 2)} x keygate`,
  );
  lines.push(`Refusals: bad key ${round(rps('bad_key'), 0)} req/s, ${round(rps('bad_key') / rps('refusal_floor'), 3)} x the floor (a Worker answering a fixed 401: ${round(rps('refusal_floor'), 0)} req/s)`);
  lines.push(`Key lookup: cold request served from "${m.coldSource}"; ${warm.n} warm requests: ${JSON.stringify(warm.keySources)} -> KV reads/req ${warm.kvReadsPerRequest}, D1 reads/req ${warm.d1ReadsPerRequest}`);
  const loadSources = r.keygate.timing.keySources;
  lines.push(`  during the keygate run (${r.keygate.timing.responses} responses): ${JSON.stringify(loadSources)} (the isolate cache refreshes from KV every KEY_CACHE_TTL_MS)`);
  lines.push(`Upstash bridge: ${round(redisRoundTrips, 4)} HTTP requests per admitted request (${m.exactStats.httpRequests} for ${m.exact.ok} requests, ${CONNECTIONS} in flight; by path ${JSON.stringify(m.exactStats.byPath)}); under load ${round(redisUnderLoad, 4)} (${m.underLoadBridge}/${m.underLoadAdmitted})`);
  lines.push('');
  lines.push('Targets:');
  for (const [k, ok] of Object.entries(targets)) lines.push(`  ${ok ? 'ok  ' : 'MISS'}  ${targetText[k]}`);
  const misses = Object.values(targets).filter((ok) => !ok).length;
  lines.push(misses ? `${misses} target(s) MISSED` : 'all targets met');
  console.log(lines.join('\n'));

  if (args.json) {
    /** @type {Record<string, unknown>} */
    const out = {
      connections: CONNECTIONS,
      duration_s: DURATION_S,
      upstream_rps: round(rps('upstream'), 1),
      passthrough_rps: round(rps('passthrough'), 1),
      keygate_rps: round(rps('keygate'), 1),
      ratio: round(ratio, 4),
      ...(r.baseline ? { baseline_rps: round(rps('baseline'), 1), baseline_ratio: round(rps('baseline') / rps('passthrough'), 4) } : {}),
      bad_key_rps: round(rps('bad_key'), 1),
      refusal_floor_rps: round(rps('refusal_floor'), 1),
      direct_passthrough_rps: round(rps('direct_passthrough'), 1),
      direct_keygate_rps: round(rps('direct_keygate'), 1),
      direct_ratio: round(rps('direct_keygate') / rps('direct_passthrough'), 4),
      direct_bad_key_rps: round(rps('direct_bad_key'), 1),
      direct_keygate_added_cpu_us: round((r.direct_keygate.cpu?.usPerRequest.workerd ?? Number.NaN) - (r.direct_passthrough.cpu?.usPerRequest.workerd ?? Number.NaN), 1),
      bad_key_vs_floor: round(rps('bad_key') / rps('refusal_floor'), 4),
      keygate_default_rps: round(rps('keygate_default'), 1),
      durable_object_rps: round(rps('durable_object'), 1),
      upstash_rps: round(rps('upstash'), 1),
      kv_reads_per_request: warm.kvReadsPerRequest,
      d1_reads_per_request: warm.d1ReadsPerRequest,
      cold_lookup_source: m.coldSource,
      redis_round_trips_per_request: round(redisRoundTrips, 4),
      redis_round_trips_per_request_under_load: round(redisUnderLoad, 4),
      bridge_rtt_p50_ms: round(rtt.p50, 3),
      bridge_rtt_p99_ms: round(rtt.p99, 3),
      bridge_rtt_3cmd_p50_ms: round(m.rtt3.p50, 3),
      limits_overhead_p50_ms: round(limitsOverhead, 3),
      limits_overhead_budget_ms: round(overheadBudget, 3),
      worker_store_rtt_p50_ms: round(workerRtt, 3),
      limits_overhead_unloaded_p50_ms: round(serialOverhead, 3),
      limits_overhead_unloaded_ok: serialOverhead <= overheadBudget,
    };
    for (const [, k] of rows) {
      out[`${k}_p50_ms`] = round(p50(k), 3);
      out[`${k}_p99_ms`] = round(r[k].latency.p99, 3);
    }
    for (const [k, x] of Object.entries(s)) out[`${k}_unloaded_p50_ms`] = round(x.latency.p50, 3);
    for (const [, k] of rows) {
      out[`${k}_workerd_cpu_us_per_request`] = round(r[k].cpu?.usPerRequest.workerd ?? Number.NaN, 1);
      out[`${k}_other_cpu`] = r[k].cpu ? round(r[k].cpu.other, 3) : null;
    }
    out.other_cpu_before_start = m.idle ? round(m.idle.other, 3) : null;
    out.targets = targets;
    out.targets_met = misses === 0;
    out.total_s = round(m.totalS, 1);
    console.log(JSON.stringify(out));
  }
}

try {
  await main();
} catch (err) {
  progress(`failed: ${/** @type {Error} */ (err).stack ?? err}`);
  await cleanup();
  process.exit(1);
}
// Worker threads and keep-alive sockets are closed; exit explicitly anyway so a stray handle
// in a dependency cannot keep the process alive.
process.exit(0);
