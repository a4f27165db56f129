// Worker thread: drives one target at a time with autocannon and posts back throughput,
// exact latencies and what the Server-Timing headers said. It runs off the main thread so
// load generation never shares an event loop with the demo upstream or the Upstash bridge,
// which live on the main thread. Jobs arrive as messages; one job at a time.
import { createHmac, randomUUID } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import autocannon from 'autocannon';
import { parseServerTiming } from './stats.mjs';

/**
 * @typedef {{ url: string, headers: Record<string, string>, connections: number, durationS: number, collect: boolean, expectStatus: number, signed?: { keyId: string, secret: string } }} LoadJob
 */

/**
 * A fresh signed-request token per request (each jti is admitted once), as a client signs:
 * HS256 over iss/iat/exp/jti with the key's signing secret.
 * @param {{ keyId: string, secret: string }} pair
 */
function signer(pair) {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  return () => {
    const iat = Math.floor(Date.now() / 1000);
    const input = `${header}.${Buffer.from(JSON.stringify({ iss: pair.keyId, iat, exp: iat + 60, jti: randomUUID() })).toString('base64url')}`;
    return `JWT ${input}.${createHmac('sha256', pair.secret).update(input).digest('base64url')}`;
  };
}

/**
 * One autocannon run. Every response's latency is kept as a float (autocannon's own
 * histogram keeps whole milliseconds only). With `collect`, Server-Timing entries are tallied.
 * @param {LoadJob} job
 */
function runOnce(job) {
  /** @type {number[]} */
  const latencies = [];
  /** @type {Record<string, number>} */
  const statuses = {};
  const timing = { responses: 0, keySources: /** @type {Record<string, number>} */ ({}), entries: /** @type {Record<string, { count: number, totalMs: number }>} */ ({}) };

  /** @param {any} client */
  const setupClient = (client) => {
    if (!job.collect) return;
    client.on('headers', (/** @type {{ headers: string[] }} */ info) => {
      const raw = info.headers;
      for (let i = 0; i < raw.length; i += 2) {
        if (raw[i].length === 13 && raw[i].toLowerCase() === 'server-timing') {
          timing.responses++;
          for (const e of parseServerTiming(raw[i + 1])) {
            const slot = (timing.entries[e.name] ??= { count: 0, totalMs: 0 });
            slot.count++;
            slot.totalMs += e.dur;
            if (e.name === 'key') timing.keySources[e.desc] = (timing.keySources[e.desc] ?? 0) + 1;
          }
        }
      }
    });
  };

  return new Promise((resolve, reject) => {
    const started = performance.now();
    const instance = autocannon(
      {
        url: job.url,
        method: 'GET',
        headers: job.headers,
        connections: job.connections,
        pipelining: 1,
        duration: job.durationS,
        timeout: 10,
        setupClient,
        ...(job.signed
          ? (() => {
              const sign = signer(job.signed);
              return { requests: [{ setupRequest: (/** @type {any} */ req) => ({ ...req, headers: { ...req.headers, authorization: sign() } }) }] };
            })()
          : {}),
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({ result, elapsedS: (performance.now() - started) / 1000, latencies, statuses, timing });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      latencies.push(responseTime);
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}

parentPort?.on('message', async (/** @type {LoadJob} */ job) => {
  try {
    const { result, elapsedS, latencies, statuses, timing } = await runOnce(job);
    // autocannon's `duration` is the measured window in seconds; fall back to our own clock.
    const seconds = typeof result.duration === 'number' && result.duration > 0 ? result.duration : elapsedS;
    parentPort?.postMessage({
      ok: true,
      responses: latencies.length,
      seconds,
      latencies: Float64Array.from(latencies),
      statuses,
      unexpected: latencies.length - (statuses[job.expectStatus] ?? 0),
      errors: result.errors,
      timeouts: result.timeouts,
      timing,
    });
  } catch (err) {
    parentPort?.postMessage({ ok: false, error: String(/** @type {Error} */ (err)?.stack ?? err) });
  }
});
