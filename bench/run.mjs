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
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemoUpstream } from '../scripts/demo-upstream.mjs';
import { startUpstashStack } from '../scripts/upstash-stack.mjs';
import { backgroundLoad } from './cpu.mjs';
import { LoadGenerator } from './load.mjs';
import { measureAll } from './measure.mjs';
import { bridgeRoundTrip, probeOnce, sampleServerTiming, sendExactly, settleRows, storeProbeBody, waitForRows } from './probes.mjs';
import { report } from './report.mjs';
import { applyMigrations, benchRoutes, breakChecksum, bundleKeygate, bundlePassthrough, createKey, putOwner, readWranglerConfig, ROOT, startWorker, upstashBindings } from './workers.mjs';

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
  const doFloorScript = await bundlePassthrough(join(ROOT, 'dist', 'bench-do-floor', 'index.js'), 'do-floor-worker.mjs');

  const upstream = await startDemoUpstream();
  cleanups.push(() => upstream.close());
  progress(`demo upstream on ${upstream.url}`);
  const stack = await startUpstashStack();
  cleanups.push(() => stack.close());
  progress(`redis-server + Upstash bridge on ${stack.url}`);

  const adminToken = randomBytes(24).toString('hex');
  // Signing secrets (signed requests) and the identity key (identity_jwt), as npm run dev makes them.
  const identityKey = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'EdDSA' };
  const keygateBindings = {
    ...wrangler.vars,
    ROUTES: benchRoutes(upstream.url),
    ADMIN_TOKEN: adminToken,
    SECRETS_MASTER_KEY: randomBytes(32).toString('base64'),
    IDENTITY_SIGNING_KEY: JSON.stringify(identityKey),
  };
  // keygate runs with wrangler.toml's flags, as deployed; the pass-through with nodejs_compat.
  const common = { compatibilityDate: wrangler.compatibilityDate };
  const deployed = { ...common, compatibilityFlags: wrangler.compatibilityFlags };

  progress('starting workerd (Miniflare): pass-through, keygate (Durable Object store), keygate (Upstash store), refusal floor');
  const [pt, kg, kgu, floor, kge, kgd, kgn] = await Promise.all([
    startWorker({ ...common, scriptPath: passthroughScript, bindings: { UPSTREAM: upstream.url }, direct: true }),
    startWorker({ ...deployed, scriptPath: keygateScript, bindings: keygateBindings, storage: true, direct: true }),
    startWorker({
      ...deployed,
      scriptPath: keygateScript,
      bindings: { ...keygateBindings, ...upstashBindings(stack) },
      storage: true,
    }),
    startWorker({ ...common, scriptPath: floorScript, bindings: {} }),
    // The same keygate with request events on: the EVENTS queue and keygate's consumer, live
    // in the gateway's workerd (kge), or deferred until after the measurement as production
    // runs it in invocations of its own (kgd, bench/deferred-consumer.mjs).
    startWorker({ ...deployed, scriptPath: keygateScript, bindings: keygateBindings, storage: true, events: true }),
    startWorker({ ...deployed, scriptPath: keygateScript, bindings: keygateBindings, storage: true, events: 'deferred' }),
    // ... and with the producer alone: EVENTS takes each batch and drops it (no broker).
    startWorker({ ...deployed, scriptPath: keygateScript, bindings: keygateBindings, storage: true, events: 'null' }),
  ]);
  for (const w of [pt, kg, kgu, floor, kge, kgd, kgn]) cleanups.push(() => w.mf.dispose());
  const base = args.baseline ? await startWorker({ ...deployed, ...(args['baseline-flags'] ? { compatibilityFlags: args['baseline-flags'].split(',') } : {}), scriptPath: args.baseline, bindings: keygateBindings, storage: true }) : null;
  if (base) {
    cleanups.push(() => base.mf.dispose());
    await applyMigrations(base.mf);
  }
  const baseKey = base ? await createKey(base.url, adminToken, { name: 'bench-baseline' }) : null;

  await Promise.all([applyMigrations(kg.mf), applyMigrations(kgu.mf), applyMigrations(kge.mf), applyMigrations(kgd.mf), applyMigrations(kgn.mf)]);
  // An owner with limits: its key is admitted in the owner's shard, against both holders.
  await putOwner(kg.url, adminToken, 'bench-owner', { limits: { rpm: 1_000_000_000, rpd: 1_000_000_000 } });
  const [loadKey, sampleKey, upstashKey, eventsKey, deferredKey, signedKey, ownedKey, producerKey] = await Promise.all([
    createKey(kg.url, adminToken, { name: 'bench-load' }),
    createKey(kg.url, adminToken, { name: 'bench-sample' }),
    createKey(kgu.url, adminToken, { name: 'bench-upstash' }),
    createKey(kge.url, adminToken, { name: 'bench-logging' }),
    createKey(kgd.url, adminToken, { name: 'bench-logging-deferred' }),
    createKey(kg.url, adminToken, { name: 'bench-signed', signing_secret: true }),
    createKey(kg.url, adminToken, { name: 'bench-owned', owner: 'bench-owner' }),
    createKey(kgn.url, adminToken, { name: 'bench-logging-producer' }),
  ]);
  const signedPair = { keyId: signedKey.id, secret: /** @type {string} */ (/** @type {any} */ (signedKey).signing_secret) };
  // The floors for a limited route: a Worker that makes the store calls keygate's Upstash
  // route makes (one per request, or shared as group commit shares them), then proxies. They
  // replay keygate's own admission command, taken from one admitted request.
  stack.bridge.resetStats();
  const primed = await probeOnce(`${kgu.url}/limited/bench`, { authorization: `Bearer ${upstashKey.key}` });
  const admissionCommand = primed.status === 200 ? stack.bridge.lastPipeline() : null;
  if (admissionCommand === null) progress(`the store floors replay a trivial script (no admission command captured: status ${primed.status})`);
  const floorStore = await startWorker({
    ...common,
    scriptPath: probeScript,
    bindings: { STORE_URL: stack.url, STORE_TOKEN: stack.token, STORE_BODY: admissionCommand ?? (await storeProbeBody(stack)), UPSTREAM: upstream.url },
  });
  cleanups.push(() => floorStore.mf.dispose());
  // The floor for the Durable-Object-limited route: the least an exact admission asks of the
  // object (one transaction over two windows per request, calls shared), then proxy.
  const floorDo = await startWorker({ ...common, scriptPath: doFloorScript, bindings: { UPSTREAM: upstream.url }, storage: true });
  cleanups.push(() => floorDo.mf.dispose());
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
    { key: 'logging', label: 'c3. keygate, request events on (consumer deferred)', url: `${kgd.url}/open${PATH}`, headers: auth(deferredKey.key) },
    { key: 'logging_producer', label: 'c5. keygate, request events to a null queue (producer only)', url: `${kgn.url}/open${PATH}`, headers: auth(producerKey.key) },
    // Its consumer finishes the slice's last batches before the next target's slice starts.
    { key: 'logging_inprocess', label: 'c4. keygate, request events on, consumer in process', url: `${kge.url}/open${PATH}`, headers: auth(eventsKey.key), afterSlice: () => settleRows(kge.mf) },
    { key: 'bad_key', label: 'd. keygate bad-checksum key (401)', url: `${kg.url}/open${PATH}`, headers: auth(badKey), expectStatus: 401 },
    { key: 'refusal_floor', label: 'h. floor: Worker with a fixed 401', url: `${floor.url}/open${PATH}`, headers: auth(badKey), expectStatus: 401 },
    // The same three without Miniflare's entry Worker in front (direct sockets): what the
    // Worker itself costs, without the ~130 µs per request that local layer adds to all.
    { key: 'direct_passthrough', label: 'b2. pass-through, direct socket', url: `${pt.directUrl}${PATH}`, headers: auth(loadKey.key) },
    { key: 'direct_keygate', label: 'c2. keygate, direct socket', url: `${kg.directUrl}/open${PATH}`, headers: auth(loadKey.key) },
    { key: 'direct_bad_key', label: 'd2. keygate bad key, direct socket', url: `${kg.directUrl}/open${PATH}`, headers: auth(badKey), expectStatus: 401 },
    { key: 'keygate_default', label: 'g. keygate default route (DO marker)', url: `${kg.url}/default${PATH}`, headers: auth(loadKey.key) },
    { key: 'durable_object', label: 'e. keygate limits, Durable Object', url: `${kg.url}/limited${PATH}`, headers: auth(loadKey.key) },
    { key: 'owner_limits', label: 'e2. keygate key + owner limits, Durable Object', url: `${kg.url}/limited${PATH}`, headers: auth(ownedKey.key) },
    { key: 'floor_store', label: 'i. floor: Worker with one store call, then proxy', url: `${floorStore.url}${PATH}?store=1&proxy=1`, headers: auth(loadKey.key) },
    { key: 'floor_store_batched', label: 'i2. floor: store calls shared as group commit does', url: `${floorStore.url}${PATH}?store=batched&proxy=1`, headers: auth(loadKey.key) },
    { key: 'floor_durable_object', label: 'i3. floor: Durable Object admission, shared calls', url: `${floorDo.url}${PATH}`, headers: auth(loadKey.key) },
    // A fresh HS256 token per request (Authorization: JWT), same route and store as e.
    { key: 'signed_request', label: 'j. signed request, limits (DO)', url: `${kg.url}/limited${PATH}`, signed: signedPair },
    // c. with x-gateway-identity minted (cached per key and route) for the upstream.
    { key: 'identity_jwt', label: 'k. keygate no limits + identity_jwt', url: `${kg.url}/identity${PATH}`, headers: auth(loadKey.key) },
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
  const results = await measureAll(gen, targets, { connections: CONNECTIONS, durationS: DURATION_S, warmupS: WARMUP_S, shuffle: true });
  // Every request of the two events targets must be in request_log: the deferred consumer
  // runs now, the live one has been running all along (its last batch may still be due).
  progress('request events: running the deferred consumer and counting request_log rows');
  const drained = await /** @type {NonNullable<typeof kgd.deferred>} */ (kgd.deferred).drain(kgd.mf);
  const eventCounts = {};
  for (const [key, w] of /** @type {const} */ ([['logging', kgd], ['logging_inprocess', kge]])) {
    const requests = results[key].responses + results[key].warmupResponses;
    eventCounts[key] = { requests, logged: await waitForRows(w.mf, requests) };
  }
  eventCounts.logging.consumed = drained.requests;
  const underLoadBridge = underLoad.bridge;
  const underLoadAdmitted = underLoad.admitted;

  // Exact: N requests, one in flight, every one awaited: each admission is one round trip of
  // its own when the store is idle (group commit adds no call and no wait); under load
  // (above) admissions that wait together share one.
  const exactN = Math.max(SAMPLES, 400);
  stack.bridge.resetStats();
  const exact = await sendExactly(`${kgu.url}/limited${PATH}`, auth(upstashKey.key), exactN, 1);
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
  return report(
    { results, serial, warm, coldSource, rtt, exact, exactStats, underLoadBridge, underLoadAdmitted, totalS, idle, rtt3, probeReplaysAdmission, eventCounts },
    { json: args.json, connections: CONNECTIONS, warmupS: WARMUP_S, durationS: DURATION_S, idleThreshold: IDLE_THRESHOLD },
  );
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
