// The baseline for keygate: a bare pass-through Worker, fetch(request) -> fetch(upstream + path).
// No auth, no limits, no header rewriting: the cost of workerd plus one outbound fetch.
// UPSTREAM (a binding) is the demo upstream's origin, e.g. http://127.0.0.1:8788.
export default {
  /** @param {Request} request @param {{ UPSTREAM: string }} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, request);
  },
};
