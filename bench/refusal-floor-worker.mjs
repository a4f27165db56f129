// The floor under keygate's bad-key path: a Worker that answers every request with a fixed
// 401 in keygate's error shape and headers, doing nothing else. Whatever it costs is the
// runtime's own per-request cost, which no refusal can go below.
const BODY = JSON.stringify({ error: { code: 'invalid_key', message: 'The API key is not valid.', request_id: 'req_floor' } });

export default {
  async fetch() {
    return new Response(BODY, {
      status: 401,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'x-request-id': 'req_floor',
        'www-authenticate': 'Bearer realm="keygate", error="invalid_token"',
      },
    });
  },
};
