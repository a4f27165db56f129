// A test upstream that behaves the way widely used public HTTP APIs do (httpbin-style paths),
// for the proxy-fidelity tests: it answers `Expect: 100-continue` with an interim 100 before
// reading an upload (Node's default, as most servers do), sends relative and absolute
// redirects, checks HTTP Basic credentials, sets its own Server-Timing and X-Request-Id, and
// knows nothing of CORS (OPTIONS gets a plain 204 with Allow, never access-control-*).
//
// Started by test/harness/global-setup.ts; tests reach it by the `realApiPort` it provides.
// It never logs request headers or bodies.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

/**
 * @typedef {import('node:http').IncomingMessage} IncomingMessage
 * @typedef {import('node:http').ServerResponse} ServerResponse
 */

const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
export const BASIC_USER = 'alice';
export const BASIC_PASSWORD = 'wonderland';

/**
 * @param {{ host?: string, port?: number }} [options]
 * @returns {Promise<{ port: number, url: string, close: () => Promise<void> }>}
 */
export async function startRealApiUpstream({ host = '127.0.0.1', port = 0 } = {}) {
  /** @type {{ origin: string }} */
  const self = { origin: '' };
  const server = createServer((req, res) => {
    handle(req, res, self.origin).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'real-api upstream failed' });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  self.origin = `http://${address.address}:${address.port}`;
  return {
    port: address.port,
    url: self.origin,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** @param {IncomingMessage} req */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_UPLOAD_BYTES) throw new Error('too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** What the upstream saw of a request, httpbin's /anything shape plus the raw query. */
function seen(req, path, rawQuery) {
  return { method: req.method, path, raw_query: rawQuery, headers: req.headers, url: req.url };
}

/**
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {string} origin
 */
async function handle(req, res, origin) {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const rawQuery = q === -1 ? '' : rawUrl.slice(q + 1);
  const method = req.method ?? 'GET';

  // CORS-unaware, like most server-to-server APIs: OPTIONS is answered without access-control-*.
  if (method === 'OPTIONS') {
    req.resume();
    res.writeHead(204, { allow: 'GET, HEAD, POST, PUT, DELETE', 'x-upstream-saw-options': '1', 'x-upstream-saw-key-id': String(req.headers['x-gateway-key-id'] ?? '') });
    return res.end();
  }

  // Uploads (curl sends `Expect: 100-continue` over 1 MiB): Node answers the 100 itself.
  if (path === '/upload' || path === '/put') {
    const body = await readBody(req);
    return json(res, 200, {
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      expect: req.headers.expect ?? null,
    });
  }

  let m = /^\/relative-redirect\/(\d+)$/.exec(path);
  if (m) {
    const n = Number(m[1]);
    req.resume();
    res.writeHead(302, { location: n <= 1 ? '/get' : `/relative-redirect/${n - 1}`, 'content-length': 0 });
    return res.end();
  }
  m = /^\/absolute-redirect\/(\d+)$/.exec(path);
  if (m) {
    const n = Number(m[1]);
    req.resume();
    res.writeHead(302, { location: n <= 1 ? `${origin}/get` : `${origin}/absolute-redirect/${n - 1}`, 'content-length': 0 });
    return res.end();
  }
  // Any path ending in /redirect-to, so routes with a base path can use it too.
  if (path.endsWith('/redirect-to')) {
    req.resume();
    const target = new URLSearchParams(rawQuery).get('url') ?? '/get';
    res.writeHead(302, { location: target, 'content-length': 0 });
    return res.end();
  }
  if (path === '/created') {
    await readBody(req);
    return json(res, 201, { created: true }, { location: '/items/42', 'content-location': `${origin}/items/42` });
  }
  if (path === '/refresh') {
    req.resume();
    return json(res, 200, { refresh: true }, { refresh: `0; url=${origin}/get` });
  }

  m = /^\/basic-auth\/([^/]+)\/([^/]+)$/.exec(path);
  if (m) {
    req.resume();
    const expected = `Basic ${Buffer.from(`${m[1]}:${m[2]}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return json(res, 401, { authenticated: false }, { 'www-authenticate': 'Basic realm="Fake Realm"' });
    return json(res, 200, { authenticated: true, user: m[1] });
  }

  if (path === '/server-timing') {
    req.resume();
    return json(res, 200, { ok: true }, { 'server-timing': 'db;dur=12.5, app;desc="render";dur=3', 'x-request-id': 'upstream-req-7' });
  }

  // A hostile upstream's response headers, chosen by the test: `h` is a JSON array of
  // [name, value] pairs, `status` the status code, and `big` one more header too long for a
  // URL, as [name, prefix, unit, count, suffix] (the value is prefix + unit x count + suffix).
  if (path.endsWith('/respond-with')) {
    req.resume();
    const params = new URLSearchParams(rawQuery);
    /** @type {[string, string][]} */
    const pairs = JSON.parse(params.get('h') ?? '[]');
    const big = params.get('big');
    if (big !== null) {
      const [name, prefix, unit, count, suffix] = JSON.parse(big);
      pairs.push([name, prefix + unit.repeat(count) + suffix]);
    }
    res.writeHead(Number(params.get('status') ?? 200), pairs.flat());
    return res.end('hostile');
  }

  if (path === '/sw.js') {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/javascript', 'service-worker-allowed': '/', 'cache-control': 'no-store' });
    return res.end('self.addEventListener("fetch", () => {});');
  }

  // /get, /anything and everything else: what arrived.
  await readBody(req);
  return json(res, 200, seen(req, path, rawQuery));
}
