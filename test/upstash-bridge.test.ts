// The local Upstash REST bridge (scripts/upstash-bridge.mjs), exercised from inside workerd
// with the real @upstash/redis and @upstash/ratelimit SDKs, as the gateway uses them.
import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis/cloudflare';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { awayFromMinuteEdge } from './limits/stores';

const url = inject('upstashUrl');
const token = inject('upstashToken');

// Redis is shared by every test file: keys and stats tags must be unique per test.
const unique = (name: string) => `bridge-test:${name}:${crypto.randomUUID()}`;

const client = (baseUrl = url, tok = token) =>
  new Redis({ url: baseUrl, token: tok, retry: false, enableTelemetry: false });

type Algorithm = ConstructorParameters<typeof Ratelimit>[0]['limiter'];
// timeout 0: a failure must show as an error here, not as Ratelimit's fail-open success.
const limiter = (redis: Redis, algorithm: Algorithm, prefix: string) =>
  new Ratelimit({ redis, limiter: algorithm, prefix, ephemeralCache: false, analytics: false, timeout: 0 });

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

type Counters = { httpRequests: number; commands: number; byPath: Record<string, number> };
async function tagStats(tag: string): Promise<Counters> {
  const res = await fetch(`${url}/__bridge/stats?tag=${encodeURIComponent(tag)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function sha1Hex(text: string) {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

describe('Upstash REST protocol', () => {
  it('round-trips SET/GET through the SDK, which asks for base64 replies', async () => {
    const redis = client();
    const key = unique('roundtrip');
    const value = 'héllo ✓ "quoted" \n newline';
    expect(await redis.set(key, value)).toBe('OK');
    expect(await redis.get(key)).toBe(value);
    expect(await redis.incr(unique('counter'))).toBe(1);
  });

  it('base64-encodes every string at every depth, but not numbers, nil or errors', async () => {
    const key = unique('b64');
    await post('/', ['RPUSH', key, 'a', 'ü']);
    const headers = { 'Upstash-Encoding': 'base64' };
    const range = await post('/', ['LRANGE', key, 0, -1], headers);
    expect(range).toEqual({ status: 200, body: { result: [btoa('a'), 'w7w='] } });
    const nested = await post('/', ['EVAL', 'return {1, "x", {false, "y"}}', 0], headers);
    expect(nested.body).toEqual({ result: [1, btoa('x'), [null, btoa('y')]] });
    const failed = await post('/', ['INCR', key], headers);
    expect(failed).toEqual({ status: 400, body: { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' } });
    expect(await post('/', ['GET', key + ':missing'], headers)).toEqual({ status: 200, body: { result: null } });
  });

  it('answers a pipeline with one entry per command; a failing command fails alone', async () => {
    const key = unique('pipe');
    const raw = await post('/pipeline', [['SET', key, 'text'], ['INCR', key], ['GET', key]]);
    expect(raw).toEqual({
      status: 200,
      body: [{ result: 'OK' }, { error: 'ERR value is not an integer or out of range' }, { result: 'text' }],
    });

    const sdk = await client().pipeline().set(key, 'v2').incr(key).get(key).exec({ keepErrors: true });
    expect(sdk.map((r) => r.error ?? r.result)).toEqual(['OK', 'ERR value is not an integer or out of range', 'v2']);
  });

  it('runs /multi-exec as one transaction', async () => {
    const key = unique('multi');
    const results = await client().multi().set(key, 1).incrby(key, 41).get(key).exec();
    expect(results).toEqual(['OK', 42, 42]);
  });

  it('refuses a wrong or missing token with 401 and a JSON error', async () => {
    for (const headers of [{ authorization: 'Bearer wrong-token' }, { authorization: '' }]) {
      const res = await post('/', ['PING'], headers);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: expect.any(String) });
    }
    await expect(client(url, 'wrong-token').get(unique('denied'))).rejects.toThrow(/Unauthorized/);
    const stats = await fetch(`${url}/__bridge/stats`);
    expect(stats.status).toBe(401);
  });
});

describe('scripts', () => {
  it('answers EVALSHA of an unknown script with NOSCRIPT, so the SDK falls back to EVAL', async () => {
    const redis = client();
    // A fresh script body each run, with the Upstash-only flag that redis-server 7 rejects.
    const script = `#!lua flags=allow-key-locking\nreturn {ARGV[1], ${Date.now()}}`;
    const sha = await sha1Hex(script);
    await expect(redis.evalsha(sha, [], ['a'])).rejects.toThrow('NOSCRIPT No matching script. Please use EVAL.');
    expect((await redis.eval<string[], [string, number]>(script, [], ['a']))[0]).toBe('a');
    // The bridge now knows the rewritten script under the original's hash.
    expect((await redis.evalsha<string[], [string, number]>(sha, [], ['b']))[0]).toBe('b');
    expect(await redis.scriptExists(sha, '0'.repeat(40))).toEqual([1, 0]);
  });

  it('SCRIPT LOAD returns the hash of the script the caller sent', async () => {
    const redis = client();
    const script = `#!lua flags=allow-key-locking\nreturn ${Date.now()} + tonumber(ARGV[1])`;
    const sha = await sha1Hex(script);
    expect(await redis.scriptLoad(script)).toBe(sha);
    expect(await redis.evalsha(sha, [], [1])).toBe(Number(script.match(/return (\d+)/)![1]) + 1);
  });
});

describe('@upstash/ratelimit against the bridge', () => {
  // fixedWindow buckets by the clock's minute, slidingWindow weighs the previous one: the counts
  // below hold only within one window.
  beforeEach(() => awayFromMinuteEdge());

  it('fixedWindow allows 3 and refuses the 4th', async () => {
    const rl = limiter(client(), Ratelimit.fixedWindow(3, '60 s'), unique('fixed'));
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await rl.limit('user'));
    expect(results.map((r) => [r.success, r.remaining])).toEqual([[true, 2], [true, 1], [true, 0], [false, 0]]);
  });

  it('slidingWindow allows 3 and refuses the 4th', async () => {
    const rl = limiter(client(), Ratelimit.slidingWindow(3, '60 s'), unique('sliding'));
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await rl.limit('user'));
    expect(results.map((r) => r.success)).toEqual([true, true, true, false]);
    expect(results[3]!.remaining).toBe(0);
  });

  it('two limiters on one client called in one Promise.all leave as ONE HTTP request', async () => {
    // A tagged base URL lets this test count only its own requests on the shared bridge.
    const tag = crypto.randomUUID();
    const redis = client(`${url}/t/${tag}`);
    const perMinute = limiter(redis, Ratelimit.fixedWindow(10, '60 s'), unique('minute'));
    const perHour = limiter(redis, Ratelimit.slidingWindow(100, '3600 s'), unique('hour'));
    // Warm-up: the first EVALSHA of each script may miss and fall back to EVAL.
    await Promise.all([perMinute.limit('user'), perHour.limit('user')]);

    const before = await tagStats(tag);
    const [a, b] = await Promise.all([perMinute.limit('user'), perHour.limit('user')]);
    const after = await tagStats(tag);

    expect([a.success, a.remaining, b.success, b.remaining]).toEqual([true, 8, true, 98]);
    expect(after.httpRequests - before.httpRequests).toBe(1);
    expect(after.byPath['/pipeline']! - before.byPath['/pipeline']!).toBe(1);
    expect(after.commands - before.commands).toBe(2);
  });
});
