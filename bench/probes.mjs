// Sequential probes: where key lookups are served from (Server-Timing), exact bridge round
// trips per admitted request, and the raw Upstash bridge round trip from Node.
import { Agent, request } from 'node:http';
import { parseServerTiming, summarize } from './stats.mjs';

/**
 * Sends `n` requests one after another and tallies the Server-Timing entries.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {number} n
 */
export async function sampleServerTiming(url, headers, n) {
  /** @type {Record<string, number>} */
  const keySources = {};
  /** @type {Record<string, number>} */
  const statuses = {};
  /** @type {Record<string, number>} */
  const entryCounts = {};
  let withTiming = 0;
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    const st = res.headers.get('server-timing');
    if (!st) continue;
    withTiming++;
    for (const e of parseServerTiming(st)) {
      entryCounts[e.name] = (entryCounts[e.name] ?? 0) + 1;
      if (e.name === 'key') keySources[e.desc] = (keySources[e.desc] ?? 0) + 1;
    }
  }
  // memory: 0 reads; kv: 1 KV read; d1: 1 KV read (a miss) + 1 D1 read.
  const kv = (keySources.kv ?? 0) + (keySources.d1 ?? 0);
  const d1 = keySources.d1 ?? 0;
  return {
    n,
    statuses,
    withTiming,
    keySources,
    entryCounts,
    kvReadsPerRequest: kv / n,
    d1ReadsPerRequest: d1 / n,
    storeCallsPerRequest: (entryCounts.store ?? 0) / n,
  };
}

/**
 * One request, for the cold-lookup probe.
 * @param {string} url
 * @param {Record<string, string>} headers
 */
export async function probeOnce(url, headers) {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  const st = res.headers.get('server-timing') ?? '';
  return { status: res.status, serverTiming: st, entries: parseServerTiming(st) };
}

/**
 * Sends `n` requests with `concurrency` in flight (all awaited, so the count is exact) and
 * returns how many got `expectStatus`.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {number} n
 * @param {number} concurrency
 * @param {number} [expectStatus]
 */
export async function sendExactly(url, headers, n, concurrency, expectStatus = 200) {
  let next = 0;
  let ok = 0;
  /** @type {Record<string, number>} */
  const statuses = {};
  const lane = async () => {
    while (next < n) {
      next++;
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === expectStatus) ok++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return { sent: n, ok, statuses };
}

// Same shape of work as keygate's revocation gate: one GET, a small reply.
const RTT_SCRIPT = "local v = redis.call('GET', KEYS[1]) if v then return {-1, v} end return {1, 0}";

/**
 * Loads the round-trip script into Redis through the bridge and returns the `/pipeline` body
 * of one EVALSHA of it, for bench/store-probe-worker.mjs.
 * @param {{ url: string, token: string }} stack
 */
export async function storeProbeBody(stack) {
  const res = await fetch(`${stack.url}/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(['SCRIPT', 'LOAD', RTT_SCRIPT]),
  });
  const loaded = /** @type {{ result: string }} */ (await res.json());
  return JSON.stringify([['EVALSHA', loaded.result, 1, 'kg:bench:probe-marker']]);
}

/**
 * p50/p99 of one `/pipeline` request carrying `commands` EVALSHAs, from Node over a kept-alive
 * connection: the floor for what one limit-store round trip can cost keygate.
 * @param {{ url: string, token: string }} stack
 * @param {{ warmup?: number, n?: number, commands?: number }} [opts]
 */
export async function bridgeRoundTrip(stack, { warmup = 200, n = 1000, commands = 1 } = {}) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const base = new URL(stack.url);
  /** @param {string} path @param {unknown} body */
  const post = (path, body) =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          path,
          method: 'POST',
          headers: {
            authorization: `Bearer ${stack.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) return reject(new Error(`bridge ${path} answered ${res.statusCode}: ${text}`));
            resolve(JSON.parse(text));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  try {
    const loaded = /** @type {{ result: string }} */ (await post('/', ['SCRIPT', 'LOAD', RTT_SCRIPT]));
    const cmd = Array.from({ length: commands }, (_, i) => ['EVALSHA', loaded.result, 1, `kg:bench:rtt-marker:${i}`]);
    for (let i = 0; i < warmup; i++) await post('/pipeline', cmd);
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const reply = /** @type {{ result?: unknown, error?: string }[]} */ (await post('/pipeline', cmd));
      times[i] = performance.now() - t0;
      const failed = reply.find((x) => x.error);
      if (failed) throw new Error(`EVALSHA failed: ${failed.error}`);
    }
    return summarize(times);
  } finally {
    agent.destroy();
  }
}

/**
 * Rows in keygate's request_log (the bench's events targets: every request must be there).
 * @param {import('miniflare').Miniflare} mf
 */
export async function requestLogRows(mf) {
  const db = await mf.getD1Database('DB');
  const row = /** @type {{ n: number } | null} */ (await db.prepare('SELECT COUNT(*) AS n FROM request_log').first());
  return row?.n ?? 0;
}

/**
 * Waits (up to `timeoutMs`) until request_log holds at least `expected` rows and stops growing.
 * @param {import('miniflare').Miniflare} mf
 * @param {number} expected
 */
export async function waitForRows(mf, expected, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  let rows = await requestLogRows(mf);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1500));
    const now = await requestLogRows(mf);
    if ((now >= expected && now === rows) || Date.now() > until) return now;
    rows = now;
  }
}

/**
 * Waits until request_log stops growing (checked every 150 ms, at most `maxMs`): after a slice
 * of the in-process events target, so its consumer's last batches do not run in the next
 * target's slice.
 * @param {import('miniflare').Miniflare} mf
 */
export async function settleRows(mf, maxMs = 3000) {
  const until = Date.now() + maxMs;
  let rows = await requestLogRows(mf);
  let still = 0;
  while (still < 2 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 150));
    const now = await requestLogRows(mf);
    still = now === rows ? still + 1 : 0;
    rows = now;
  }
}
