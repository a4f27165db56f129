// Concurrency caps (`max_concurrent` on a key or an owner) through the gateway, on both
// stores: leases are taken in the admission round trip, released when the response body
// ends or the client leaves; and an admission the store guard gave up on is undone when it
// commits late.

import { describe, expect, it } from 'vitest';
import { bearer, testEnv, upstreamOrigin } from '../harness/gateway';
import type { Env } from '../../src/env';
import { awayFromMinuteEdge, errorOf, gateway, STORE_KINDS, windowOf } from '../limits/stores';

const origin = () => upstreamOrigin();

/**
 * The status of `send` once it stops answering 429, or its last status: a lease is released
 * in ctx.waitUntil after the body ends, which a deferred call's `settled` (taken when the
 * response began) does not cover. Refused attempts consume nothing.
 */
async function statusOnceReleased(send: () => Promise<Response>): Promise<number> {
  let status = 0;
  for (let i = 0; i < 50; i++) {
    status = (await send()).status;
    if (status !== 429) return status;
    await new Promise((r) => setTimeout(r, 20));
  }
  return status;
}
const SLOW = '/api/slow-stream?chunks=3&interval_ms=50';

describe.each(STORE_KINDS)('concurrency caps through the gateway (%s store)', (kind) => {
  it('a key with max_concurrent 2 gets 429 too_many_concurrent_requests while two streams are open, and a slot back when one ends or its client leaves', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    const { key, id } = await gw.createKey({ max_concurrent: 2 });
    expect((await gw.admin(`/keys/${id}`)).status).toBe(200);
    const a = await gw.callDeferred(SLOW, { headers: bearer(key) });
    const b = await gw.callDeferred(SLOW, { headers: bearer(key) });
    expect([a.res.status, b.res.status]).toEqual([200, 200]);

    const refused = await gw.call('/api/x', { headers: bearer(key) });
    expect(refused.status).toBe(429);
    const error = await errorOf(refused);
    expect(error.code).toBe('too_many_concurrent_requests');
    expect(error.details).toMatchObject({ holder: 'key', max_concurrent: 2 });

    // One stream read to its end: its slot comes back.
    expect(await a.res.text()).toContain('chunk-3');
    await a.settled;
    let c: Awaited<ReturnType<typeof gw.callDeferred>> | undefined;
    expect(
      await statusOnceReleased(async () => {
        c = await gw.callDeferred(SLOW, { headers: bearer(key) });
        return c.res;
      }),
    ).toBe(200);
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(429);

    // A client that leaves mid-stream gives its slot back too.
    await b.res.body?.cancel();
    await b.settled;
    expect(await statusOnceReleased(() => gw.call('/api/x', { headers: bearer(key) }))).toBe(200);
    await c?.res.body?.cancel();
  });

  it('a request whose upstream fails releases its slot', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }, { path: '/down', upstream: 'http://127.0.0.1:9' }] });
    const { key } = await gw.createKey({ max_concurrent: 1 });
    expect((await gw.call('/down/x', { headers: bearer(key) })).status).toBe(502);
    expect((await gw.call('/api/x', { headers: bearer(key) })).status).toBe(200);
  });

  it("an owner's max_concurrent spans its keys, and the refusal names the owner", async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    const owner = `conc-${crypto.randomUUID().slice(0, 8)}`;
    expect((await gw.admin(`/owners/${owner}`, { method: 'PUT', json: { max_concurrent: 1 } })).status).toBe(200);
    const a = await gw.createKey({ owner });
    const b = await gw.createKey({ owner });
    const open = await gw.callDeferred(SLOW, { headers: bearer(a.key) });
    expect(open.res.status).toBe(200);
    const refused = await gw.call('/api/x', { headers: bearer(b.key) });
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).details).toMatchObject({ holder: 'owner', max_concurrent: 1 });
    await open.res.text();
    await open.settled;
    expect(await statusOnceReleased(() => gw.call('/api/x', { headers: bearer(b.key) }))).toBe(200);
  });

  it('max_concurrent is bounded', async () => {
    const gw = gateway(kind, { ROUTES: [{ path: '/api', upstream: origin() }] });
    for (const v of [0, 1.5, 100_001]) expect((await gw.admin('/keys', { method: 'POST', json: { max_concurrent: v } })).status).toBe(400);
  });
});

/**
 * A LIMITER whose objects commit admissions only after `delayMs` (past the gateway's timeout):
 * `admit` (one admission) and/or `admitMany` (a batch); `admissionCalls` lists the calls made.
 */
function lateLimiter(late: { admit?: boolean; admitMany?: boolean }, delayMs = 400): { ns: Env['LIMITER']; admissionCalls: string[] } {
  const real = testEnv().LIMITER;
  const admissionCalls: string[] = [];
  const after = async (slow: boolean | undefined) => {
    if (slow) await new Promise((r) => setTimeout(r, delayMs));
  };
  const ns = {
    idFromName: (name: string) => real.idFromName(name),
    get: (objectId: DurableObjectId) => {
      const stub = real.get(objectId) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      return {
        admit: async (input: unknown) => {
          admissionCalls.push('admit');
          await after(late.admit);
          return stub.admit!(input);
        },
        admitMany: async (inputs: unknown) => {
          admissionCalls.push('admitMany');
          await after(late.admitMany);
          return stub.admitMany!(inputs);
        },
        settle: (...args: unknown[]) => stub.settle!(...args),
        release: (...args: unknown[]) => stub.release!(...args),
        setBlocked: (...args: unknown[]) => stub.setBlocked!(...args),
        usage: (...args: unknown[]) => stub.usage!(...args),
        changeCredits: (...args: unknown[]) => stub.changeCredits!(...args),
      };
    },
  } as unknown as Env['LIMITER'];
  return { ns, admissionCalls };
}

describe('an admission the store guard timed out on', () => {
  it('is refunded in full when it waited behind another, went out in a batch and committed after a fail-closed route answered 503', async () => {
    const routes = [{ path: '/api', upstream: origin(), limits: { rpm: 5 }, on_store_error: { requests: 'closed' } }];
    const late = lateLimiter({ admitMany: true });
    const slow = gateway('durable_object', { ROUTES: routes, LIMITER: late.ns, STORE_TIMEOUT_MS: '50' });
    const normal = gateway('durable_object', { ROUTES: routes });
    const { key, id } = await normal.createKey({ credits: { remaining: 10 } });
    await awayFromMinuteEdge(); // the rpm read below must see the minute the admissions counted in
    // An admission alone is answered at once; those that wait behind it go out together
    // (admitMany) and commit after their timeouts: refused, and given everything back.
    const calls = await Promise.all(Array.from({ length: 4 }, () => slow.callDeferred('/api/x', { headers: bearer(key) })));
    await Promise.all(calls.map((r) => r.settled));
    expect(late.admissionCalls).toContain('admitMany');
    const admitted = calls.filter((r) => r.res.status === 200).length;
    expect(admitted + calls.filter((r) => r.res.status === 503).length).toBe(4);
    expect(admitted).toBeLessThan(4);
    const usage = await normal.usage(id);
    expect(windowOf(usage, 'rpm').used).toBe(admitted);
    expect(usage.credits?.remaining).toBe(10 - admitted);
  });

  it('is refunded in full when it commits after a fail-closed route answered 503', async () => {
    // The object commits, but only after the gateway stopped waiting.
    const late = lateLimiter({ admit: true }).ns;
    const routes = [{ path: '/api', upstream: origin(), limits: { rpm: 5 }, on_store_error: { requests: 'closed' } }];
    const slow = gateway('durable_object', { ROUTES: routes, LIMITER: late, STORE_TIMEOUT_MS: '50' });
    const normal = gateway('durable_object', { ROUTES: routes });
    const { key, id } = await normal.createKey({ credits: { remaining: 3 }, max_concurrent: 1 });
    const refused = await slow.callDeferred('/api/x', { headers: bearer(key) });
    expect(refused.res.status).toBe(503);
    await refused.settled;
    const usage = await normal.usage(id);
    expect(windowOf(usage, 'rpm').used).toBe(0);
    expect(usage.credits?.remaining).toBe(3);
    // The lease went back too: a request fits under max_concurrent 1.
    expect((await normal.call('/api/x', { headers: bearer(key) })).status).toBe(200);
  });
});
