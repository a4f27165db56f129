// Forged keys with a valid CRC32 pass the format check and must be looked up. They must not
// evict real keys from the isolate cache, concurrent requests with the same forged key share
// one lookup, and lookups that reach D1 are bounded per isolate (beyond the bound: 503 with
// Retry-After, never 401, so a real key is never called invalid).

import { describe, expect, it, vi } from 'vitest';
import { generateKey } from '../../src/keys/key-format';
import { digestKey } from '../../src/keys/digest';
import { KeyStore, MAX_D1_FALLBACKS } from '../../src/keys/key-store';
import type { Env } from '../../src/env';
import { bearer, call, countingEnv, createKey, testEnv, upstreamOrigin } from '../harness/gateway';
import { errorOf } from '../limits/stores';

const ROUTES = () => [{ path: '/api', upstream: upstreamOrigin() }];
// Long enough that the real key cannot simply expire from the isolate cache during the test.
const vars = (): Partial<Env> => ({ ROUTES: ROUTES(), KEY_CACHE_TTL_MS: '300000', UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined });
const forged = () => generateKey('kg_live').plaintext;

describe('forged keys with valid checksums', () => {
  it('10,000 of them do not evict a real key from the isolate cache', async () => {
    const env = testEnv(vars());
    const { key } = await createKey({}, { env });
    const first = await call('/api/x', { headers: bearer(key) }, { env });
    expect(first.status).toBe(200);
    expect((await call('/api/x', { headers: bearer(key) }, { env })).headers.get('server-timing')).toContain('key;desc="memory"');

    // The flood goes through the key store's lookup (the gateway's path for a key that passed
    // the format check) over storage that knows none of the digests, as real KV and D1 would
    // answer: the isolate cache makes the same decisions, in seconds instead of minutes.
    const nowhere = {
      kv: { get: async () => null } as unknown as KVNamespace,
      db: { prepare: () => ({ bind: () => ({ first: async () => null }) }) } as unknown as D1Database,
    };
    const store = new KeyStore(nowhere.kv, nowhere.db, 300_000);
    const batch = MAX_D1_FALLBACKS;
    for (let sent = 0; sent < 10_000; sent += batch) {
      const found = await Promise.all(Array.from({ length: batch }, () => store.lookup(digestKey(forged()), () => undefined)));
      for (const f of found) expect(f).toEqual({ record: null, source: 'd1' });
    }

    const res = await call('/api/x', { headers: bearer(key) }, { env });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toContain('key;desc="memory"');
  });

  it('share one KV and one D1 lookup when the same forged key arrives concurrently', async () => {
    const { env, counts } = countingEnv(testEnv(vars()));
    const key = forged();
    const responses = await Promise.all(Array.from({ length: 20 }, () => call('/api/x', { headers: bearer(key) }, { env, settle: false })));
    for (const res of responses) {
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe('invalid_key');
    }
    expect(counts).toEqual({ kv: 1, d1: 1 });
    // Then remembered: the next one touches neither.
    expect((await call('/api/x', { headers: bearer(key) }, { env })).status).toBe(401);
    expect(counts).toEqual({ kv: 1, d1: 1 });
  });

  it(`answer 503 with Retry-After beyond ${MAX_D1_FALLBACKS} concurrent D1 lookups per isolate, never 401`, async () => {
    const base = testEnv(vars());
    // D1 answers only when released, so every lookup that reaches it stays in flight.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reachedD1 = 0;
    const held = new Proxy(base.DB, {
      get(target, prop) {
        if (prop !== 'prepare') return Reflect.get(target, prop) as unknown;
        return (sql: string) => {
          const stmt = target.prepare(sql);
          return {
            bind: (...args: unknown[]) => ({
              first: async () => {
                reachedD1++;
                await gate;
                return stmt.bind(...args).first();
              },
            }),
          };
        };
      },
    });
    const env: Env = { ...base, DB: held };
    const extra = 8;
    const done: Response[] = [];
    const all = Array.from({ length: MAX_D1_FALLBACKS + extra }, () =>
      call('/api/x', { headers: bearer(forged()) }, { env, settle: false }).then((r) => {
        done.push(r);
        return r;
      }),
    );
    await vi.waitFor(() => expect(reachedD1 === MAX_D1_FALLBACKS && done.length === extra).toBe(true), { timeout: 20_000 });
    for (const res of done) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await errorOf(res.clone())).code).toBe('store_unavailable');
    }
    release();
    const statuses = (await Promise.all(all)).map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(MAX_D1_FALLBACKS);
    expect(statuses.filter((s) => s === 503)).toHaveLength(extra);
  });
});
