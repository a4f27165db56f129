// One limit-store round trip as a Worker makes it: with ?store=1, each request sends one
// `/pipeline` request to the Upstash bridge (npm run bench replays keygate's own admission
// command, the EVALSHA an admission sends) and waits for the reply; without it, the Worker
// answers at once. The difference of the two
// unloaded p50s is what one store round trip costs a Worker in this runtime (subrequest and
// all), the allowance the bench's limits-overhead target starts from.
// With ?store=1&proxy=1 it then forwards to UPSTREAM, as a limited route does after its one
// store call: the throughput floor for a route with limits (`floor_store_rps`).
// With ?store=batched&proxy=1 the store calls are shared the way keygate's group commit
// shares them (src/limits/group-commit.ts): a request that finds no call in flight sends
// at once; requests that arrive meanwhile wait, and the next call carries one copy of the
// command per waiter. That is the store traffic of keygate's limited route with none of
// keygate's own work: the floor for that route as measured (`floor_store_batched_rps`).
// Bindings: STORE_URL, STORE_TOKEN, STORE_BODY (the /pipeline body, JSON), UPSTREAM (optional).

import { sharedCalls, withOwnTimer } from './shared-calls.mjs';

/** One /pipeline call carrying `n` copies of the command; true when every reply is a result. */
const batched = sharedCalls(async (env, n) => {
  const one = JSON.parse(env.STORE_BODY);
  const body = n === 1 ? env.STORE_BODY : JSON.stringify(Array.from({ length: n }, () => one[0]));
  const res = await fetch(`${env.STORE_URL}/pipeline`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.STORE_TOKEN}`, 'content-type': 'application/json' },
    body,
  });
  const reply = await res.json();
  return res.ok && Array.isArray(reply) && reply.length === n && !reply.some((r) => r.error);
});

export default {
  /** @param {Request} request @param {{ STORE_URL: string, STORE_TOKEN: string, STORE_BODY: string, UPSTREAM?: string }} env @param {ExecutionContext} ctx */
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const store = url.searchParams.get('store');
    if (store === '1') {
      const res = await fetch(`${env.STORE_URL}/pipeline`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.STORE_TOKEN}`, 'content-type': 'application/json' },
        body: env.STORE_BODY,
      });
      const reply = await res.json();
      if (!res.ok || !Array.isArray(reply) || reply.some((r) => r.error)) return new Response(JSON.stringify(reply), { status: 502 });
    } else if (store === 'batched') {
      if (!(await withOwnTimer(batched(env, ctx)))) return new Response('store call failed', { status: 502 });
    }
    if (url.searchParams.get('proxy') === '1' && env.UPSTREAM) return fetch(`${env.UPSTREAM}${url.pathname}`, { headers: request.headers });
    return new Response('ok');
  },
};
