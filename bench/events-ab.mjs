// Request events on versus off, only: the same keygate bundle on the no-limits route, without
// request events, with them and keygate's consumer running live in the gateway's workerd (as
// `npm run bench` reports logging_ratio_inprocess), and with them and the consumer deferred
// until after the measurement (logging_ratio; see deferred-consumer.mjs), in 1 s slices whose
// order is shuffled every round.
// Afterwards every event must be in request_log: the counts are printed and checked.
//
//   node bench/events-ab.mjs [--duration 6] [--connections 10] [--producer-only] [--a BUNDLE [--a-inprocess]]
//
// --producer-only adds a target whose queue has no consumer at all (Miniflare's broker then
// drops the messages unread): what sending alone costs. --a BUNDLE adds that bundle (an older
// commit's `wrangler deploy --dry-run --outdir` output) with the deferred consumer, as
// `a_deferred`: an A/B of the producer against this tree's `deferred`; with --a-inprocess,
// with its consumer live instead, as `a_inprocess` (against this tree's `inprocess`).

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startDemoUpstream } from '../scripts/demo-upstream.mjs';
import { LoadGenerator } from './load.mjs';
import { measureAll } from './measure.mjs';
import { applyMigrations, benchRoutes, bundleKeygate, createKey, readWranglerConfig, startWorker } from './workers.mjs';
import { settleRows, waitForRows } from './probes.mjs';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    connections: { type: 'string', default: '10' },
    'producer-only': { type: 'boolean', default: false },
    a: { type: 'string' },
    'a-inprocess': { type: 'boolean', default: false },
  },
});
const wrangler = await readWranglerConfig();
const script = await bundleKeygate();
const upstream = await startDemoUpstream();
const adminToken = randomBytes(24).toString('hex');
const bindings = { ...wrangler.vars, ROUTES: benchRoutes(upstream.url), ADMIN_TOKEN: adminToken };
const opts = { scriptPath: script, compatibilityDate: wrangler.compatibilityDate, compatibilityFlags: wrangler.compatibilityFlags, bindings, storage: true };
/** @type {[string, boolean | 'producer' | 'deferred', string?][]} */
const kinds = [
  ['off', false],
  ['inprocess', true],
  ['deferred', 'deferred'],
  ...(args['producer-only'] ? [['producer', /** @type {const} */ ('producer')]] : []),
  ...(args.a ? [args['a-inprocess'] ? ['a_inprocess', true, args.a] : ['a_deferred', /** @type {const} */ ('deferred'), args.a]] : []),
];
const workers = await Promise.all(kinds.map(([, events, scriptPath]) => startWorker({ ...opts, ...(scriptPath ? { scriptPath } : {}), events })));
await Promise.all(workers.map((w) => applyMigrations(w.mf)));
const keys = await Promise.all(workers.map((w, i) => createKey(w.url, adminToken, { name: `ab-${kinds[i]?.[0]}` })));
const gen = new LoadGenerator();
try {
  const r = await measureAll(
    gen,
    kinds.map(([key, events], i) => ({
      key,
      label: key,
      url: `${workers[i]?.url}/open/bench`,
      headers: { authorization: `Bearer ${keys[i]?.key}` },
      // The live consumer finishes its slice's last batches before the next target's slice.
      ...(events === true ? { afterSlice: () => settleRows(workers[i].mf) } : {}),
    })),
    { connections: Number(args.connections), durationS: Number(args.duration), warmupS: 1, shuffle: true },
  );
  // workerd CPU per response: the difference to `off` is what emitting (and, in process,
  // brokering and consuming) the events costs, whatever else loads the machine.
  const us = (/** @type {any} */ x) => Math.round(x.cpu?.usPerRequest.workerd ?? NaN);
  /** @type {Record<string, unknown>} */
  const out = { off_rps: Math.round(r.off.rps), off_workerd_us: us(r.off) };
  if (args.a) {
    const mode = args['a-inprocess'] ? 'inprocess' : 'deferred';
    out[`a_vs_b_${mode}_workerd_us`] = us(r[`a_${mode}`]) - us(r[mode]);
  }
  for (const [key] of kinds.slice(1)) {
    out[`${key}_rps`] = Math.round(r[key].rps);
    out[`${key}_ratio`] = Number((r[key].rps / r.off.rps).toFixed(4));
    out[`${key}_workerd_us`] = us(r[key]);
  }
  // Every request of the two consuming targets must be in the log.
  const deferred = workers[2]?.deferred;
  const drained = deferred ? await deferred.drain(workers[2].mf) : null;
  for (const [i, key] of [[1, 'inprocess'], [2, 'deferred']]) {
    const sent = r[key].responses + r[key].warmupResponses;
    const rows = await waitForRows(workers[i].mf, sent);
    out[`${key}_requests`] = sent;
    out[`${key}_logged`] = rows;
  }
  if (drained) out.deferred_drained = drained;
  console.log(JSON.stringify(out));
  if (out.inprocess_logged < out.inprocess_requests || out.deferred_logged < out.deferred_requests || (drained && drained.requests !== out.deferred_logged)) {
    console.error('events-ab: some requests are missing from request_log');
    process.exitCode = 1;
  }
} finally {
  await gen.close();
  await Promise.all(workers.map((w) => w.mf.dispose()));
  await upstream.close();
}
