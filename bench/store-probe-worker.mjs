// One limit-store round trip as a Worker makes it: with ?store=1, each request sends one
// `/pipeline` request to the Upstash bridge (npm run bench replays keygate's own admission
// command, the EVALSHA an admission sends) and waits for the reply; without it, the Worker
// answers at once. The difference of the two
// unloaded p50s is what one store round trip costs a Worker in this runtime (subrequest and
// all), the allowance the bench's limits-overhead target starts from.
// With ?store=1&proxy=1 it then forwards to UPSTREAM, as a limited route does after its one
// store call: the throughput floor for a route with limits (`floor_store_rps`).
// Bindings: STORE_URL, STORE_TOKEN, STORE_BODY (the /pipeline body, JSON), UPSTREAM (optional).
export default {
  /** @param {Request} request @param {{ STORE_URL: string, STORE_TOKEN: string, STORE_BODY: string, UPSTREAM?: string }} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.searchParams.get('store') === '1') {
      const res = await fetch(`${env.STORE_URL}/pipeline`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.STORE_TOKEN}`, 'content-type': 'application/json' },
        body: env.STORE_BODY,
      });
      const reply = await res.json();
      if (!res.ok || !Array.isArray(reply) || reply.some((r) => r.error)) return new Response(JSON.stringify(reply), { status: 502 });
    }
    if (url.searchParams.get('proxy') === '1' && env.UPSTREAM) return fetch(`${env.UPSTREAM}${url.pathname}`, { headers: request.headers });
    return new Response('ok');
  },
};
