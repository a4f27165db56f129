// Group commit with real, separate requests: keygate's bundle in workerd (Miniflare), real
// HTTP clients on 127.0.0.1, both limit stores. Inside vitest every gateway call shares the
// test's request context; here each request is its own, so a store call made by one request
// for others, and the wake-ups that cross between requests, run as they do in production.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startDemoUpstream } from '../../scripts/demo-upstream.mjs';
import { startUpstashStack } from '../../scripts/upstash-stack.mjs';
import { applyMigrations, bundleKeygate, createKey, readWranglerConfig, startWorker, upstashBindings } from '../../bench/workers.mjs';
import { awayFromMinuteEdge } from './harness.mjs';

const ADMIN = randomBytes(24).toString('hex');
/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
/** @type {Record<string, { url: string }>} */
const gateways = {};
/** @type {Awaited<ReturnType<typeof startUpstashStack>>} */
let stack;

before(async () => {
  const wrangler = await readWranglerConfig();
  const script = await bundleKeygate();
  const upstream = await startDemoUpstream();
  cleanups.push(() => upstream.close());
  stack = await startUpstashStack();
  cleanups.push(() => stack.close());
  const bindings = {
    ...wrangler.vars,
    ROUTES: [
      { path: '/burst', upstream: upstream.url, limits: { rpm: 60 } },
      { path: '/roomy', upstream: upstream.url, limits: { rpm: 100_000 } },
    ],
    ADMIN_TOKEN: ADMIN,
    SECRETS_MASTER_KEY: randomBytes(32).toString('base64'),
    // Generous: a timed-out admission would fail open and read as over-admission.
    STORE_TIMEOUT_MS: '5000',
  };
  const common = { scriptPath: script, compatibilityDate: wrangler.compatibilityDate, compatibilityFlags: wrangler.compatibilityFlags, storage: true };
  const [dobj, upstash] = await Promise.all([startWorker({ ...common, bindings }), startWorker({ ...common, bindings: { ...bindings, ...upstashBindings(stack) } })]);
  cleanups.push(() => dobj.mf.dispose(), () => upstash.mf.dispose());
  await Promise.all([applyMigrations(dobj.mf), applyMigrations(upstash.mf)]);
  gateways.durable_object = dobj;
  gateways.upstash = upstash;
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
});

/** @param {string} base @param {string} id */
async function rpmUsed(base, id) {
  const res = await fetch(`${base}/admin/keys/${id}/usage`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(res.status, 200);
  const body = /** @type {any} */ (await res.json());
  const routes = body.routes ?? [body];
  const windows = routes.flatMap((/** @type {any} */ r) => r.windows ?? r.counters ?? []);
  return windows.filter((/** @type {any} */ w) => w.name === 'rpm').reduce((/** @type {number} */ n, /** @type {any} */ w) => Math.max(n, w.used), 0);
}

for (const kind of ['durable_object', 'upstash']) {
  describe(`group commit across requests (${kind} store)`, () => {
    it('admits exactly rpm of 200 simultaneous requests, each its own request', async () => {
      const { url } = gateways[kind];
      const key = await createKey(url, ADMIN, { name: `gc-burst-${kind}` });
      // 200 requests and the usage read in one rpm window: a wide margin for a busy machine.
      await awayFromMinuteEdge(15_000);
      if (kind === 'upstash') stack.bridge.resetStats();
      const statuses = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const res = await fetch(`${url}/burst/x`, { headers: { authorization: `Bearer ${key.key}` } });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      assert.equal(statuses.filter((s) => s === 200).length, 60);
      assert.equal(statuses.filter((s) => s === 429).length, 140);
      assert.equal(await rpmUsed(url, key.id), 60);
      if (kind === 'upstash') {
        // The admissions shared round trips: fewer /pipeline requests than requests.
        const { httpRequests } = stack.bridge.stats();
        assert.ok(httpRequests < 200, `expected fewer than 200 bridge requests, saw ${httpRequests}`);
      }
    });

    it('answers every request that stays when others leave mid-admission, and never counts past the limit', async () => {
      const { url } = gateways[kind];
      const key = await createKey(url, ADMIN, { name: `gc-leave-${kind}` });
      // The usage read must see the rpm window all 150 requests counted in.
      await awayFromMinuteEdge(15_000);
      const outcomes = await Promise.all(
        Array.from({ length: 150 }, async (_, i) => {
          // Every third client leaves a moment after sending: some lead a store call others wait on.
          const signal = i % 3 === 0 ? AbortSignal.timeout(1 + (i % 5)) : AbortSignal.timeout(20_000);
          try {
            const res = await fetch(`${url}/roomy/x`, { headers: { authorization: `Bearer ${key.key}` }, signal });
            await res.arrayBuffer();
            return { left: i % 3 === 0, status: res.status };
          } catch (error) {
            return { left: i % 3 === 0, status: /** @type {Error} */ (error).name };
          }
        }),
      );
      const stayed = outcomes.filter((o) => !o.left);
      assert.deepEqual(
        stayed.filter((o) => o.status !== 200),
        [],
        'every client that stayed gets its answer',
      );
      const used = await rpmUsed(url, key.id);
      assert.ok(used >= stayed.length && used <= 150, `rpm used ${used}: at least the ${stayed.length} answered, at most the 150 sent`);
    });
  });
}

describe('lookups shared across requests', () => {
  it('answers every request of a burst on a key no isolate has cached (one KV read, shared)', async () => {
    const { url } = gateways.durable_object;
    const key = await createKey(url, ADMIN, { name: 'gc-cold-burst' });
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await fetch(`${url}/roomy/x`, { headers: { authorization: `Bearer ${key.key}` } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.deepEqual([...new Set(statuses)], [200]);
  });
});
