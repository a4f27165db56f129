// Local Upstash REST bridge: an HTTP server that speaks Upstash's REST protocol
// (POST /, /pipeline, /multi-exec, Bearer auth, optional base64 replies) and runs the
// commands on a real redis-server, so @upstash/redis and @upstash/ratelimit work offline.
//
// It talks RESP2 to Redis over one raw socket instead of using a client library:
// a bridge must pass replies through untouched, and general-purpose clients reshape
// some of them (ioredis turns HGETALL into an object, pairs HRANDFIELD, ...) and
// resend in-flight commands after a reconnect, which could apply a write twice.
//
// Extras for tests and benchmarks:
// - GET /__bridge/stats[?tag=t] and POST /__bridge/stats/reset (same bearer token).
// - A base URL of `<bridge>/t/<tag>` works like `<bridge>` but also counts requests under
//   that tag, so a test can count its own round trips while other test files share
//   the bridge.
//
// CLI: node scripts/upstash-bridge.mjs --redis-port 6379 [--port 8079] [--token xyz]
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** An error reply from Redis; `message` is Redis's exact text. */
class RedisReplyError extends Error {}

/** @typedef {Buffer | number | null | RedisReplyError | Reply[]} Reply */

const CRLF = Buffer.from('\r\n');
const INCOMPLETE = Symbol('incomplete');

/**
 * Parses one RESP2 reply at `pos`.
 * @param {Buffer} buf
 * @param {number} pos
 * @returns {[Reply, number] | typeof INCOMPLETE}
 */
function parseReply(buf, pos) {
  const eol = buf.indexOf(CRLF, pos);
  if (eol === -1) return INCOMPLETE;
  const type = buf[pos];
  const next = eol + 2;
  switch (type) {
    case 0x2b: // '+' simple string
      return [buf.subarray(pos + 1, eol), next];
    case 0x2d: // '-' error
      return [new RedisReplyError(buf.toString('utf8', pos + 1, eol)), next];
    case 0x3a: // ':' integer
      return [Number(buf.toString('latin1', pos + 1, eol)), next];
    case 0x24: { // '$' bulk string
      const len = Number(buf.toString('latin1', pos + 1, eol));
      if (len < 0) return [null, next];
      if (next + len + 2 > buf.length) return INCOMPLETE;
      return [buf.subarray(next, next + len), next + len + 2];
    }
    case 0x2a: { // '*' array
      const n = Number(buf.toString('latin1', pos + 1, eol));
      if (n < 0) return [null, next];
      const items = new Array(n);
      let at = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at);
        if (r === INCOMPLETE) return r;
        items[i] = r[0];
        at = r[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP type byte 0x${type?.toString(16)} from redis-server`);
  }
}

/** @param {string[][]} commands */
function encodeCommands(commands) {
  const parts = [];
  for (const argv of commands) {
    parts.push(Buffer.from(`*${argv.length}\r\n`));
    for (const arg of argv) {
      const b = Buffer.from(arg, 'utf8');
      parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
    }
  }
  return Buffer.concat(parts);
}

/**
 * One pipelined connection to redis-server. Requests are written in one piece each, so
 * a MULTI..EXEC batch reaches Redis contiguously. When the socket drops, every pending
 * request fails at once and a reconnect starts; nothing is resent.
 */
class RedisLink {
  /** @type {import('node:net').Socket | null} */ #socket = null;
  /** @type {{ n: number, replies: Reply[], resolve: (r: Reply[]) => void, reject: (e: Error) => void }[]} */
  #pending = [];
  #buf = Buffer.alloc(0);
  #ready = false;
  #closed = false;
  #attempt = 0;
  /** @type {NodeJS.Timeout | undefined} */ #timer;

  /** @param {string} host @param {number} port */
  constructor(host, port) {
    this.host = host;
    this.port = port;
  }

  get address() { return `${this.host}:${this.port}`; }

  /** Resolves once connected; rejects if the first attempt fails. */
  connect() {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      this.#socket = socket;
      socket.setNoDelay(true);
      socket.once('connect', () => {
        this.#ready = true;
        this.#attempt = 0;
        resolve(undefined);
      });
      socket.on('data', (chunk) => this.#onData(chunk));
      socket.on('error', (err) => {
        if (!this.#ready) reject(new Error(`cannot connect to redis-server at ${this.address}: ${err.message}`));
      });
      socket.on('close', () => this.#onClose(socket));
    });
  }

  /**
   * Sends commands in one write and resolves with one reply per command.
   * Rejects only when the connection fails; Redis error replies are values.
   * @param {string[][]} commands
   * @returns {Promise<Reply[]>}
   */
  send(commands) {
    if (!this.#ready || !this.#socket) {
      return Promise.reject(new Error(`redis-server at ${this.address} is not connected (reconnecting)`));
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ n: commands.length, replies: [], resolve, reject });
      this.#socket?.write(encodeCommands(commands));
    });
  }

  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket?.destroy();
  }

  /** @param {Buffer} chunk */
  #onData(chunk) {
    const buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let pos = 0;
    try {
      while (pos < buf.length) {
        const r = parseReply(buf, pos);
        if (r === INCOMPLETE) break;
        pos = r[1];
        const head = this.#pending[0];
        if (!head) throw new Error('redis-server sent a reply nobody asked for');
        head.replies.push(r[0]);
        if (head.replies.length === head.n) {
          this.#pending.shift();
          head.resolve(head.replies);
        }
      }
    } catch (err) {
      // A desynchronised stream cannot be trusted: drop it and fail everything pending.
      this.#socket?.destroy(/** @type {Error} */ (err));
      return;
    }
    this.#buf = buf.subarray(pos);
  }

  /** @param {import('node:net').Socket} socket */
  #onClose(socket) {
    if (socket !== this.#socket) return;
    const wasReady = this.#ready;
    this.#ready = false;
    this.#socket = null;
    this.#buf = Buffer.alloc(0);
    const failed = this.#pending;
    this.#pending = [];
    const err = new Error(`connection to redis-server at ${this.address} was lost`);
    for (const p of failed) p.reject(err);
    if (this.#closed || (!wasReady && this.#attempt === 0)) return;
    const delay = Math.min(50 * 2 ** this.#attempt++, 1000);
    this.#timer = setTimeout(() => this.connect().catch(() => {}), delay);
  }
}

// Commands that would change or stall the one connection every request shares.
const REFUSED = new Set([
  'SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE',
  'MONITOR', 'SELECT', 'QUIT', 'RESET', 'HELLO', 'AUTH', 'MULTI', 'EXEC', 'DISCARD',
  'WATCH', 'UNWATCH', 'BLPOP', 'BRPOP', 'BRPOPLPUSH', 'BLMOVE', 'BLMPOP', 'BZPOPMIN',
  'BZPOPMAX', 'BZMPOP', 'WAIT', 'WAITAOF',
]);

/** @param {string} s */
const sha1 = (s) => createHash('sha1').update(s, 'utf8').digest('hex');

/**
 * Drops the Upstash-only `allow-key-locking` shebang flag, which redis-server 7 rejects.
 * Other shebang options are kept so the script's semantics otherwise stay the same.
 * @param {string} script
 */
export function stripUpstashFlags(script) {
  const m = /^#!lua([^\n]*)/.exec(script);
  if (!m?.[1]?.includes('allow-key-locking')) return script;
  const opts = m[1].trim().split(/\s+/).flatMap((tok) => {
    if (!tok.startsWith('flags=')) return [tok];
    const flags = tok.slice(6).split(',').filter((f) => f && f !== 'allow-key-locking');
    return flags.length ? [`flags=${flags.join(',')}`] : [];
  });
  return `#!lua${opts.length ? ` ${opts.join(' ')}` : ''}${script.slice(m[0].length)}`;
}

/**
 * @param {Reply} v
 * @returns {RedisReplyError | undefined}
 */
function findError(v) {
  if (v instanceof RedisReplyError) return v;
  if (Array.isArray(v)) for (const x of v) { const e = findError(x); if (e) return e; }
  return undefined;
}

/**
 * @param {Reply} v
 * @param {boolean} b64
 * @returns {unknown}
 */
function toJson(v, b64) {
  if (Buffer.isBuffer(v)) return v.toString(b64 ? 'base64' : 'utf8');
  if (Array.isArray(v)) return v.map((x) => toJson(x, b64));
  return v;
}

/** @returns {{ httpRequests: number, commands: number, byPath: Record<string, number> }} */
const emptyCounters = () => ({ httpRequests: 0, commands: 0, byPath: { '/': 0, '/pipeline': 0, '/multi-exec': 0 } });

const PROTOCOL_PATH = /^(?:\/t\/([^/]+))?(\/|\/pipeline|\/multi-exec)?$/;

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** @param {import('node:http').IncomingMessage} req */
async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts the bridge. Fails if redis-server is not reachable.
 * @param {{ redisPort: number, redisHost?: string, token: string, port?: number, host?: string }} opts
 */
export async function startBridge({ redisPort, redisHost = '127.0.0.1', token, port = 0, host = '127.0.0.1' }) {
  if (!token) throw new Error('startBridge: a token is required');
  const link = new RedisLink(redisHost, redisPort);
  await link.connect();

  const expectedAuth = Buffer.from(`Bearer ${token}`);
  /** @type {Map<string, string>} sha1(original script) -> sha1(script Redis actually has) */
  const shaMap = new Map();
  let totals = emptyCounters();
  /** @type {Map<string, ReturnType<typeof emptyCounters>>} */
  let byTag = new Map();

  /** @param {import('node:http').IncomingMessage} req */
  const authorized = (req) => {
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expectedAuth.length && timingSafeEqual(got, expectedAuth);
  };

  /** @param {string} script */
  const rewrite = (script) => {
    const out = stripUpstashFlags(script);
    if (out !== script) shaMap.set(sha1(script), sha1(out));
    return out;
  };

  /**
   * Validates one command and applies the script rewrites.
   * @param {unknown} cmd
   * @returns {{ argv: string[], loadedSha?: string } | { error: string }}
   */
  const prepare = (cmd) => {
    if (!Array.isArray(cmd) || cmd.length === 0) return { error: 'ERR a command must be a non-empty JSON array' };
    /** @type {string[]} */
    const argv = [];
    for (const a of cmd) {
      if (typeof a === 'string') argv.push(a);
      else if (typeof a === 'number' || typeof a === 'boolean') argv.push(String(a));
      else return { error: `ERR unsupported argument ${JSON.stringify(a)}: use strings, numbers or booleans` };
    }
    const name = /** @type {string} */ (argv[0]).toUpperCase();
    const sub = argv[1]?.toUpperCase();
    const blockingRead = (name === 'XREAD' || name === 'XREADGROUP') && argv.some((a) => a.toUpperCase() === 'BLOCK');
    if (REFUSED.has(name) || blockingRead || (name === 'CLIENT' && sub === 'REPLY')) {
      return { error: `ERR command '${argv[0]}' is not supported by the Upstash REST bridge` };
    }
    if ((name === 'EVAL' || name === 'EVAL_RO') && argv.length > 1) {
      argv[1] = rewrite(/** @type {string} */ (argv[1]));
    } else if ((name === 'EVALSHA' || name === 'EVALSHA_RO') && argv.length > 1) {
      const sha = /** @type {string} */ (argv[1]).toLowerCase();
      argv[1] = shaMap.get(sha) ?? /** @type {string} */ (argv[1]);
    } else if (name === 'SCRIPT' && sub === 'LOAD' && argv.length === 3) {
      const original = /** @type {string} */ (argv[2]);
      argv[2] = rewrite(original);
      return { argv, loadedSha: sha1(original) };
    } else if (name === 'SCRIPT' && sub === 'EXISTS') {
      for (let i = 2; i < argv.length; i++) {
        const sha = /** @type {string} */ (argv[i]);
        argv[i] = shaMap.get(sha.toLowerCase()) ?? sha;
      }
    }
    return { argv };
  };

  /**
   * @param {Reply} reply
   * @param {{ loadedSha?: string }} prepared
   * @param {boolean} b64
   */
  const toEntry = (reply, prepared, b64) => {
    const err = findError(reply);
    if (err) return { error: err.message };
    // SCRIPT LOAD must answer with the hash the caller computed from its own script.
    const value = prepared.loadedSha && Buffer.isBuffer(reply) ? Buffer.from(prepared.loadedSha) : reply;
    return { result: toJson(value, b64) };
  };

  /** @param {unknown[]} commands @param {boolean} b64 */
  const runPipeline = async (commands, b64) => {
    const prepared = commands.map(prepare);
    const argvs = prepared.flatMap((p) => ('argv' in p ? [p.argv] : []));
    const replies = argvs.length ? await link.send(argvs) : [];
    let next = 0;
    return prepared.map((p) => ('error' in p ? { error: p.error } : toEntry(/** @type {Reply} */ (replies[next++]), p, b64)));
  };

  /**
   * @param {unknown[]} commands
   * @param {boolean} b64
   * @returns {Promise<[number, unknown]>}
   */
  const runTransaction = async (commands, b64) => {
    const prepared = commands.map(prepare);
    const bad = prepared.find((p) => 'error' in p);
    if (bad && 'error' in bad) return [400, { error: bad.error }];
    const argvs = prepared.map((p) => /** @type {{ argv: string[] }} */ (p).argv);
    const replies = await link.send([['MULTI'], ...argvs, ['EXEC']]);
    const exec = replies[replies.length - 1];
    if (!Array.isArray(exec)) {
      // EXECABORT: report the queue-time error that caused it, which names the real problem.
      const queued = replies.slice(1, -1).find((r) => r instanceof RedisReplyError);
      const err = queued ?? exec;
      return [400, { error: err instanceof RedisReplyError ? err.message : 'ERR transaction aborted' }];
    }
    return [200, exec.map((r, i) => toEntry(r, /** @type {{ loadedSha?: string }} */ (prepared[i]), b64))];
  };

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  const handle = async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://bridge');
    if (url.pathname.startsWith('/__bridge/')) {
      if (!authorized(req)) return sendJson(res, 401, { error: 'Unauthorized: missing or wrong bearer token' });
      if (req.method === 'GET' && url.pathname === '/__bridge/stats') {
        const tag = url.searchParams.get('tag');
        return sendJson(res, 200, tag === null ? stats() : (byTag.get(tag) ?? emptyCounters()));
      }
      if (req.method === 'POST' && url.pathname === '/__bridge/stats/reset') {
        resetStats();
        return sendJson(res, 200, { result: 'OK' });
      }
      return sendJson(res, 404, { error: 'not found' });
    }

    const m = PROTOCOL_PATH.exec(url.pathname);
    if (!m) return sendJson(res, 404, { error: `unknown path ${url.pathname}` });
    const kind = m[2] ?? '/';
    const counters = [totals];
    if (m[1] !== undefined) {
      const tag = decodeURIComponent(m[1]);
      if (!byTag.has(tag)) byTag.set(tag, emptyCounters());
      counters.push(/** @type {ReturnType<typeof emptyCounters>} */ (byTag.get(tag)));
    }
    for (const c of counters) { c.httpRequests++; c.byPath[kind] = (c.byPath[kind] ?? 0) + 1; }

    if (!authorized(req)) return sendJson(res, 401, { error: 'Unauthorized: missing or wrong bearer token' });
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' });

    let body;
    try {
      const text = await readBody(req);
      body = JSON.parse(text);
      if (kind === '/pipeline') lastPipeline = text;
    } catch {
      return sendJson(res, 400, { error: 'ERR request body is not valid JSON' });
    }
    const b64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const isBatch = kind !== '/';
    if (isBatch && (!Array.isArray(body) || body.length === 0 || !body.every(Array.isArray))) {
      return sendJson(res, 400, { error: 'ERR body must be a non-empty JSON array of commands' });
    }
    for (const c of counters) c.commands += isBatch ? body.length : 1;

    try {
      if (kind === '/') {
        const [entry] = await runPipeline([body], b64);
        return sendJson(res, entry && 'error' in entry ? 400 : 200, entry);
      }
      if (kind === '/pipeline') return sendJson(res, 200, await runPipeline(body, b64));
      const [status, out] = await runTransaction(body, b64);
      return sendJson(res, status, out);
    } catch (err) {
      return sendJson(res, 502, { error: `ERR ${/** @type {Error} */ (err).message}` });
    }
  };

  /** @type {string | null} The body of the latest /pipeline request (for replaying it: npm run bench). */
  let lastPipeline = null;
  const stats = () => ({ ...structuredClone(totals), byTag: Object.fromEntries(structuredClone(byTag)) });
  const resetStats = () => { totals = emptyCounters(); byTag = new Map(); };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { error: `ERR bridge failure: ${err.message}` });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());

  return {
    url: `http://${host}:${address.port}`,
    token,
    port: address.port,
    stats,
    resetStats,
    /** The body of the latest /pipeline request, as sent; null before the first. */
    lastPipeline: () => lastPipeline,
    async close() {
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      });
      link.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      'redis-port': { type: 'string', default: '6379' },
      'redis-host': { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8079' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
    },
  });
  const bridge = await startBridge({
    redisPort: Number(values['redis-port']),
    redisHost: values['redis-host'],
    port: Number(values.port),
    host: values.host,
    token: values.token ?? randomBytes(24).toString('hex'),
  });
  console.log(`Upstash REST bridge: ${bridge.url} -> redis-server ${values['redis-host']}:${values['redis-port']}`);
  console.log(`UPSTASH_REDIS_REST_URL=${bridge.url}`);
  console.log(`UPSTASH_REDIS_REST_TOKEN=${bridge.token}`);
  const stop = () => bridge.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
