// The report of `npm run bench`: the table, the unloaded and store figures, the targets with
// pass/fail, and (with --json) the one JSON line. run.mjs measures; this only computes and prints.
import { round } from './stats.mjs';

/**
 * @param {any} m what run.mjs measured
 * @param {{ json: boolean, connections: number, warmupS: number, durationS: number, idleThreshold: number }} opts
 */
export function report(m, { json, connections: CONNECTIONS, warmupS: WARMUP_S, durationS: DURATION_S, idleThreshold: IDLE_THRESHOLD }) {
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

  // Both events targets: a request_log row for every request sent (warm-up included); the
  // deferred consumer wrote exactly the request events it was handed.
  const ev = m.eventCounts;
  const everyRequestLogged =
    ev.logging.logged >= ev.logging.requests && ev.logging.logged === ev.logging.consumed && ev.logging_inprocess.logged >= ev.logging_inprocess.requests;
  const targets = {
    ratio_ge_0_8: ratio >= 0.8,
    logging_ratio_ge_0_95: rps('logging') / rps('keygate') >= 0.95,
    logging_every_request_logged: everyRequestLogged,
    bad_key_rps_ge_2x_keygate: rps('bad_key') >= 2 * rps('keygate'),
    zero_kv_reads_warm: warm.kvReadsPerRequest === 0,
    zero_d1_reads_warm: warm.d1ReadsPerRequest === 0,
    redis_round_trips_eq_1: redisRoundTrips === 1 && m.exact.ok === m.exact.sent,
    limits_overhead_le_round_trip: overheadMeasured <= overheadBudget,
    default_ratio_ge_0_85: rps('keygate_default') / rps('passthrough') >= 0.85,
    limited_ratio_durable_object_ge_0_75: rps('durable_object') / rps('passthrough') >= 0.75,
    limited_ratio_upstash_ge_0_75: rps('upstash') / rps('passthrough') >= 0.75,
    owner_limits_cost_le_10pct: rps('owner_limits') >= 0.9 * rps('durable_object'),
    signed_ratio_ge_0_9: rps('signed_request') / rps('durable_object') >= 0.9,
    identity_jwt_ratio_ge_0_9: rps('identity_jwt') / rps('keygate') >= 0.9,
  };
  const targetText = {
    ratio_ge_0_8: `keygate/pass-through throughput ${round(ratio, 3)} (>= 0.8)`,
    logging_ratio_ge_0_95: `request events on/off throughput ${round(rps('logging') / rps('keygate'), 3)} (>= 0.95; consumer deferred as in production; with keygate's consumer live in the gateway's workerd: ${round(rps('logging_inprocess') / rps('keygate'), 3)})`,
    logging_every_request_logged: `request_log rows / requests sent: consumer deferred ${ev.logging.logged}/${ev.logging.requests} (${ev.logging.consumed} consumed), in process ${ev.logging_inprocess.logged}/${ev.logging_inprocess.requests} (rows >= requests: requests in flight when a slice stops are served and logged)`,
    bad_key_rps_ge_2x_keygate: `bad-key ${round(rps('bad_key'), 0)} req/s vs 2 x keygate ${round(2 * rps('keygate'), 0)} req/s`,
    zero_kv_reads_warm: `KV reads per warm request ${round(warm.kvReadsPerRequest, 4)} (== 0)`,
    zero_d1_reads_warm: `D1 reads per warm request ${round(warm.d1ReadsPerRequest, 4)} (== 0)`,
    redis_round_trips_eq_1: `bridge HTTP requests per admitted request, one in flight ${round(redisRoundTrips, 4)} (== 1; ${m.exact.ok}/${m.exact.sent} admitted; under load ${round(redisUnderLoad, 4)}, group commit)`,
    limits_overhead_le_round_trip: `${Number.isFinite(serialOverhead) ? 'unloaded ' : ''}p50 limits (Upstash) - p50 no limits = ${round(overheadMeasured, 3)} ms (<= one store round trip ${Number.isFinite(workerRtt) ? 'from a Worker' : 'from Node'} ${round(roundTrip, 3)} + 0.2 = ${round(overheadBudget, 3)} ms)`,
  };

  Object.assign(targetText, {
    default_ratio_ge_0_85: `default route/pass-through throughput ${round(rps('keygate_default') / rps('passthrough'), 3)} (>= 0.85)`,
    limited_ratio_durable_object_ge_0_75: `limited route (Durable Object)/pass-through ${round(rps('durable_object') / rps('passthrough'), 3)} (>= 0.75)`,
    limited_ratio_upstash_ge_0_75: `limited route (Upstash)/pass-through ${round(rps('upstash') / rps('passthrough'), 3)} (>= 0.75)`,
    owner_limits_cost_le_10pct: `key + owner limits ${round(rps('owner_limits'), 0)} req/s vs key limits ${round(rps('durable_object'), 0)} req/s (>= 90%)`,
  });

  const signedRatio = rps('signed_request') / rps('durable_object');
  const identityRatio = rps('identity_jwt') / rps('keygate');
  /** @type {Record<string, string>} */
  const moreText = {
    signed_ratio_ge_0_9: `signed request / key, limits on the Durable Object: ${round(signedRatio, 3)} (>= 0.9)`,
    identity_jwt_ratio_ge_0_9: `identity_jwt / no limits: ${round(identityRatio, 3)} (>= 0.9)`,
  };
  Object.assign(targetText, moreText);
  const rows = [
    ['a. upstream direct', 'upstream'],
    ['b. pass-through Worker', 'passthrough'],
    ['c. keygate (no limits, no marker)', 'keygate'],
    ['c3. keygate, request events on (consumer deferred)', 'logging'],
    ['c4. keygate, request events on, consumer in process', 'logging_inprocess'],
    ['c5. keygate, request events to a null queue (producer only)', 'logging_producer'],
    ...(r.baseline ? [['c0. keygate, baseline bundle', 'baseline']] : []),
    ['d. keygate bad-checksum key (401)', 'bad_key'],
    ['h. floor: Worker with a fixed 401', 'refusal_floor'],
    ['b2. pass-through, direct socket', 'direct_passthrough'],
    ['c2. keygate, direct socket', 'direct_keygate'],
    ['d2. keygate bad key, direct socket', 'direct_bad_key'],
    ['g. keygate default route (DO marker)', 'keygate_default'],
    ['e. keygate limits, Durable Object', 'durable_object'],
    ['f. keygate limits, Upstash', 'upstash'],
    ['e2. keygate key + owner limits, Durable Object', 'owner_limits'],
    ['i. floor: Worker with one store call, then proxy', 'floor_store'],
    ['i2. floor: store calls shared as group commit does', 'floor_store_batched'],
    ['i3. floor: Durable Object admission, shared calls', 'floor_durable_object'],
    ['j. signed request, limits (DO)', 'signed_request'],
    ['k. keygate no limits + identity_jwt', 'identity_jwt'],
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
  lines.push(`Upstash bridge: ${round(redisRoundTrips, 4)} HTTP requests per admitted request (${m.exactStats.httpRequests} for ${m.exact.ok} requests, one in flight; by path ${JSON.stringify(m.exactStats.byPath)}); under load ${round(redisUnderLoad, 4)} (${m.underLoadBridge}/${m.underLoadAdmitted})`);
  lines.push('');
  lines.push('Targets:');
  for (const [k, ok] of Object.entries(targets)) lines.push(`  ${ok ? 'ok  ' : 'MISS'}  ${targetText[k]}`);
  const misses = Object.values(targets).filter((ok) => !ok).length;
  lines.push(misses ? `${misses} target(s) MISSED` : 'all targets met');
  console.log(lines.join('\n'));

  if (json) {
    /** @type {Record<string, unknown>} */
    const out = {
      connections: CONNECTIONS,
      duration_s: DURATION_S,
      upstream_rps: round(rps('upstream'), 1),
      passthrough_rps: round(rps('passthrough'), 1),
      keygate_rps: round(rps('keygate'), 1),
      logging_rps: round(rps('logging'), 1),
      logging_ratio: round(rps('logging') / rps('keygate'), 4),
      logging_inprocess_rps: round(rps('logging_inprocess'), 1),
      logging_ratio_inprocess: round(rps('logging_inprocess') / rps('keygate'), 4),
      // keygate's producer alone: EVENTS drops each batch, no queue broker in the process.
      logging_ratio_producer: round(rps('logging_producer') / rps('keygate'), 4),
      logging_requests: ev.logging.requests,
      logging_logged: ev.logging.logged,
      logging_inprocess_requests: ev.logging_inprocess.requests,
      logging_inprocess_logged: ev.logging_inprocess.logged,
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
      default_ratio: round(rps('keygate_default') / rps('passthrough'), 4),
      limited_ratio_durable_object: round(rps('durable_object') / rps('passthrough'), 4),
      limited_ratio_upstash: round(rps('upstash') / rps('passthrough'), 4),
      owner_limits_rps: round(rps('owner_limits'), 1),
      owner_limits_cost: round(1 - rps('owner_limits') / rps('durable_object'), 4),
      floor_store_rps: round(rps('floor_store'), 1),
      floor_store_batched_rps: round(rps('floor_store_batched'), 1),
      // The Upstash-limited route's ceiling as measured here: keygate's store traffic and
      // nothing else of keygate's, against the pass-through.
      floor_store_batched_ratio: round(rps('floor_store_batched') / rps('passthrough'), 4),
      // The same for the Durable-Object-limited route (bench/do-floor-worker.mjs).
      floor_durable_object_rps: round(rps('floor_durable_object'), 1),
      floor_durable_object_ratio: round(rps('floor_durable_object') / rps('passthrough'), 4),
      store_calls_per_admitted_request_under_load: round(redisUnderLoad, 4),
      signed_request_rps: round(rps('signed_request'), 1),
      identity_jwt_rps: round(rps('identity_jwt'), 1),
      signed_ratio: round(signedRatio, 4),
      identity_jwt_ratio: round(identityRatio, 4),
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
