// Request events on versus off, only: the same keygate bundle on the no-limits route, with
// and without the EVENTS queue and its consumer, in rotated slices (the figure that
// `npm run bench` reports as logging_ratio, without the rest of the bench).
//
//   node bench/events-ab.mjs [--duration 6] [--connections 10] [--producer-only]

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startDemoUpstream } from '../scripts/demo-upstream.mjs';
import { LoadGenerator } from './load.mjs';
import { measureAll } from './measure.mjs';
import { applyMigrations, benchRoutes, bundleKeygate, createKey, readWranglerConfig, startWorker } from './workers.mjs';

const { values: args } = parseArgs({
  options: { duration: { type: 'string', default: '6' }, connections: { type: 'string', default: '10' }, 'producer-only': { type: 'boolean', default: false } },
});
const wrangler = await readWranglerConfig();
const script = await bundleKeygate();
const upstream = await startDemoUpstream();
const adminToken = randomBytes(24).toString('hex');
const bindings = { ...wrangler.vars, ROUTES: benchRoutes(upstream.url), ADMIN_TOKEN: adminToken };
const opts = { scriptPath: script, compatibilityDate: wrangler.compatibilityDate, compatibilityFlags: wrangler.compatibilityFlags, bindings, storage: true };
const [off, on] = await Promise.all([startWorker(opts), startWorker({ ...opts, events: args['producer-only'] ? 'producer' : true })]);
await Promise.all([applyMigrations(off.mf), applyMigrations(on.mf)]);
const [kOff, kOn] = await Promise.all([createKey(off.url, adminToken, { name: 'ab-off' }), createKey(on.url, adminToken, { name: 'ab-on' })]);
const gen = new LoadGenerator();
try {
  const r = await measureAll(
    gen,
    [
      { key: 'off', label: 'events off', url: `${off.url}/open/bench`, headers: { authorization: `Bearer ${kOff.key}` } },
      { key: 'on', label: 'events on', url: `${on.url}/open/bench`, headers: { authorization: `Bearer ${kOn.key}` } },
    ],
    { connections: Number(args.connections), durationS: Number(args.duration), warmupS: 1 },
  );
  // workerd CPU per response: the on/off difference is what emitting (and, unless
  // --producer-only, brokering and consuming) the events costs, whatever else loads the machine.
  const us = (/** @type {any} */ x) => Math.round(x.cpu?.usPerRequest.workerd ?? NaN);
  console.log(JSON.stringify({ off_rps: Math.round(r.off.rps), on_rps: Math.round(r.on.rps), logging_ratio: Number((r.on.rps / r.off.rps).toFixed(4)), off_workerd_us: us(r.off), on_workerd_us: us(r.on) }));
} finally {
  await gen.close();
  await Promise.all([off.mf.dispose(), on.mf.dispose()]);
  await upstream.close();
}
