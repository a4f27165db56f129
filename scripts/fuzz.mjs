// `npm run fuzz -- --minutes N --seed S`: the fuzz suite of test/fuzz (every operation of
// /admin/openapi.json from its schemas, random proxied requests, the invariants of
// test/fuzz/session.mjs after every request and batch) for N minutes against keygate over
// HTTP: bundled as it deploys, run by Miniflare, with the demo upstream (scripts/fuzz/target.mjs).
// Each distinct failure is printed once, shrunk by fast-check to a minimal batch, as curls;
// the run then goes on past it. Exit code 1 when anything failed.
import { request as httpRequest, Agent } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { build } from 'esbuild';
import fc from 'fast-check';
import { failureReport, failureSignature } from '../test/fuzz/report.mjs';
import { anyRequest, operations } from '../test/fuzz/requests.mjs';
import { startSession } from '../test/fuzz/session.mjs';
import { ROOT } from '../bench/workers.mjs';
import { startFuzzTarget } from './fuzz/target.mjs';

/** Bodies this large may be cut off by the server's early answer (see send). */
const LARGE_BODY_BYTES = 1024 * 1024;
/** A request that gets no answer in this long counts as a hang. */
const ANSWER_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    seed: { type: 'string' },
    batch: { type: 'string', default: '8' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run fuzz -- [--minutes 1] [--seed <integer>] [--batch 8]');
  process.exit(0);
}
const minutes = Number(values.minutes);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const maxBatch = Number(values.batch);
if (!(minutes > 0) || !Number.isInteger(seed) || !(maxBatch >= 1)) {
  console.error('fuzz: --minutes must be > 0, --seed an integer, --batch >= 1');
  process.exit(2);
}

/** The one error table, from src/errors.ts (TypeScript, so bundled for Node first). */
async function errorTable() {
  const out = await build({ entryPoints: [join(ROOT, 'src', 'errors.ts')], bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'silent' });
  const code = out.outputFiles[0]?.text ?? '';
  const mod = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
  return /** @type {Record<string, { status: number }>} */ (mod.ERRORS);
}

console.log(`[fuzz] bundling keygate and starting it with the demo upstream ...`);
const target = await startFuzzTarget();
const origin = new URL(target.url);
// A connection per request: one fuzzed request must not leave bytes that the next one's
// answer depends on.
const agent = new Agent({ keepAlive: false });

/**
 * Headers the HTTP server consumes before keygate runs (Cloudflare's edge in production,
 * workerd's HTTP server here): framing (the sender frames every body itself with its true
 * length) and Host (workerd builds the request URL from it and fails outside the Worker on
 * one it cannot parse). The in-process test still sends them to keygate as plain headers.
 */
const SERVER_HEADERS = new Set(['content-length', 'transfer-encoding', 'host']);
/** How workerd's own HTTP server words a refusal (kj-http: "ERROR: header too large."). */
const RUNTIME_REFUSAL = /^ERROR: [^\n]{1,80}\.$/;

/**
 * Sends exactly what the fuzz request says (raw path, any method, repeated headers).
 * @type {import('../test/fuzz/session.mjs').Send}
 */
function send(method, path, headers, body) {
  return new Promise((resolve) => {
    /** @type {Record<string, string | string[]>} */
    const h = {};
    const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    for (const [name, value] of headers) {
      if (SERVER_HEADERS.has(name.toLowerCase())) continue;
      const prev = h[name];
      h[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
    }
    if (bytes !== undefined) h['content-length'] = String(bytes.length);
    let req;
    try {
      req = httpRequest({ host: origin.hostname, port: origin.port, method, path, headers: h, agent }, (res) => {
        /** @type {Buffer[]} */
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => {
          const out = new Headers();
          for (const [n, v] of Object.entries(res.headers)) if (v !== undefined) out.set(n, Array.isArray(v) ? v.join(', ') : v);
          let raw = Buffer.concat(parts);
          try {
            raw = decode(raw, out.get('content-encoding'));
          } catch (err) {
            return resolve({ status: -1, headers: out, text: `body does not match content-encoding ${out.get('content-encoding')}: ${String(err)}` });
          }
          const text = raw.toString('utf8');
          // workerd's HTTP server refuses some requests itself, before any Worker runs (a
          // request head over its size limit: 431), in plain text; not keygate's answer.
          if (RUNTIME_REFUSAL.test(text) && (res.statusCode ?? 0) >= 400 && (res.statusCode ?? 0) < 500) return resolve({ status: 0, headers: out, text: `runtime refused: ${text}` });
          resolve({ status: res.statusCode ?? -1, headers: out, text });
        });
        res.on('error', (err) => resolve({ status: -1, headers: new Headers(), text: `response broke off: ${err.message}` }));
      });
    } catch (err) {
      // Node refuses to send it (a character no client may put in a path or header): skip.
      return resolve({ status: 0, headers: new Headers(), text: `unsendable: ${String(err)}` });
    }
    req.setTimeout(ANSWER_TIMEOUT_MS, () => {
      req.destroy();
      resolve({ status: -1, headers: new Headers(), text: `no answer within ${ANSWER_TIMEOUT_MS} ms` });
    });
    req.on('error', (/** @type {NodeJS.ErrnoException} */ err) => {
      // workerd answers a request it refuses (401, 405, 413) without reading a large body and
      // closes the connection while the client still sends it; Node's client then reports
      // the reset instead of the answer. The answer is the HTTP server's timing, not keygate's.
      if ((err.code === 'ECONNRESET' || err.code === 'EPIPE') && (bytes?.length ?? 0) >= LARGE_BODY_BYTES) {
        return resolve({ status: 0, headers: new Headers(), text: `connection closed while sending a large body: ${err.message}` });
      }
      resolve({ status: -1, headers: new Headers(), text: `connection error: ${err.message}` });
    });
    try {
      req.end(bytes);
    } catch (err) {
      // Node checks some headers only when it writes them (a Trailer without chunked framing).
      req.destroy();
      resolve({ status: 0, headers: new Headers(), text: `unsendable: ${String(err)}` });
    }
  });
}

/**
 * workerd compresses answers for clients that accept it (a fuzzed Accept-Encoding).
 * @param {Buffer} body
 * @param {string | null} encoding
 */
function decode(body, encoding) {
  if (body.length === 0) return body;
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      return body;
  }
}

let exitCode = 0;
try {
  const session = await startSession(send, target.adminToken);
  session.errors = await errorTable();
  const docRes = await session.run({ label: 'doc', method: 'GET', path: '/admin/openapi.json', headers: [['authorization', 'Bearer {{ADMIN}}']] });
  const doc = JSON.parse(docRes.text);
  console.log(`[fuzz] ${operations(doc).length} admin operations from /admin/openapi.json, plus the proxy; seed ${seed}, ${minutes} min`);
  console.log(`[fuzz] the curls below need GW=${target.url} ADMIN_TOKEN=${target.adminToken} KEY=${session.vars.KEY} METERED_KEY=${session.vars.METERED}` +
    Object.entries(session.vars).filter(([k]) => /^ID\d+$/.test(k)).map(([k, v]) => ` TARGET_KEY_ID${k.slice(2)}=${v}`).join('') +
    ` KEY_ID=${session.vars.KEY_ID} METERED_KEY_ID=${session.vars.METERED_ID} (while this run lasts; the comment lines say how to make your own)`);

  const arb = anyRequest(doc);
  const deadline = Date.now() + minutes * 60_000;
  /** @type {Set<string>} */
  const reported = new Set();
  let runs = 0;
  let failures = 0;
  for (let round = 0; Date.now() < deadline; round++) {
    const details = await fc.check(session.property(arb, maxBatch, reported), {
      seed: seed + round,
      numRuns: Number.MAX_SAFE_INTEGER,
      interruptAfterTimeLimit: Math.max(1, deadline - Date.now()),
      markInterruptAsFailure: false,
    });
    runs += details.numRuns;
    if (!details.failed) break;
    failures += 1;
    exitCode = 1;
    console.log(`\n${'='.repeat(78)}\n${failureReport(details)}\n`);
    const signatures = failureSignature(details);
    if (signatures.every((s) => reported.has(s)) || !(details.errorInstance instanceof Error && 'violations' in details.errorInstance)) {
      console.log('[fuzz] the failure is not an invariant the run can step past; stopping.');
      break;
    }
    for (const s of signatures) reported.add(s);
  }
  console.log(`\n[fuzz] ${runs} batches (up to ${maxBatch} requests each, plus health checks); ${failures} distinct failure${failures === 1 ? '' : 's'}.`);
  if (reported.size > 0) for (const s of reported) console.log(`  - ${s}`);
} finally {
  agent.destroy();
  await target.close();
}
process.exit(exitCode);
