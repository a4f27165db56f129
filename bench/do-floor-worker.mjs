// The floor for a route with limits on the Durable Object store (`floor_durable_object_rps`):
// a Worker that does the least an exact per-request admission of the bench's /limited route
// needs of a Durable Object, and nothing else of keygate's, then proxies to UPSTREAM. Every
// request is admitted in the one object of its key, in its own transaction charging the two
// request windows (rpm, rpd), and requests that arrive while a call is in flight share the
// next call, as keygate's group commit shares them (src/limits/group-commit.ts). The object
// answers a count, where keygate's answers each admission's windows and ticket.
// In Miniflare the object runs in the same workerd process as the Worker, as keygate's does.
// Bindings: LIMITER (this module's LimiterObject, SQLite), UPSTREAM.
import { DurableObject } from 'cloudflare:workers';
import { sharedCalls, withOwnTimer } from './shared-calls.mjs';

export class LimiterObject extends DurableObject {
  /** @param {DurableObjectState} ctx @param {unknown} env */
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, bucket INTEGER NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (name, bucket))');
  }

  /** `n` admissions, each one transaction over both windows; returns how many were admitted. */
  admitMany(n, now) {
    const minute = Math.floor(now / 60_000);
    const day = Math.floor(now / 86_400_000);
    for (let i = 0; i < n; i++) {
      this.ctx.storage.transactionSync(() => {
        this.sql.exec('INSERT INTO counters VALUES (?, ?, 1) ON CONFLICT (name, bucket) DO UPDATE SET used = used + 1', 'rpm', minute);
        this.sql.exec('INSERT INTO counters VALUES (?, ?, 1) ON CONFLICT (name, bucket) DO UPDATE SET used = used + 1', 'rpd', day);
      });
    }
    return n;
  }
}

/** One call to the key's object for `n` admissions. */
const admit = sharedCalls(async (env, n) => {
  const stub = env.LIMITER.get(env.LIMITER.idFromName('bench-key'));
  return (await stub.admitMany(n, Date.now())) === n;
});

export default {
  /** @param {Request} request @param {{ LIMITER: DurableObjectNamespace, UPSTREAM: string }} env @param {ExecutionContext} ctx */
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (!(await withOwnTimer(admit(env, ctx)))) return new Response('admission failed', { status: 502 });
    return fetch(`${env.UPSTREAM}${url.pathname}`, { headers: request.headers });
  },
};
