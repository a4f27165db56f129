import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { digestKey } from '../../src/keys/digest';
import { checksumOf, generateKey } from '../../src/keys/key-format';
import { clearKeyCache, KV_PREFIX } from '../../src/keys/key-store';
import { admin, bearer, call, countingEnv, createKey, testEnv, type ErrorJson } from '../harness/gateway';

/** What a client can observe of a refusal, minus the per-request id. */
async function observable(res: Response) {
  const body = (await res.json()) as ErrorJson;
  expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
  const { request_id: _id, ...error } = body.error;
  return {
    status: res.status,
    error,
    keys: Object.keys(body),
    contentType: res.headers.get('content-type'),
    cacheControl: res.headers.get('cache-control'),
    wwwAuthenticate: res.headers.get('www-authenticate'),
  };
}

/** The same key with the character at `i` replaced by a different base62 character. */
function withCharChanged(key: string, i: number): string {
  const c = key[i] === 'A' ? 'B' : 'A';
  return key.slice(0, i) + c + key.slice(i + 1);
}

const randomPart = (key: string) => key.slice(key.lastIndexOf('_') + 1, -6);

/** countingEnv plus a count of calls on the limit store's Durable Object namespace. */
function countingStores() {
  const { env, counts } = countingEnv();
  const store = { calls: 0 };
  const LIMITER = new Proxy(env.LIMITER, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        store.calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { env: { ...env, LIMITER }, counts, store };
}

/** Another product's key prefix: valid in the format, never configured here. */
const FOREIGN_PREFIX = 'acme_live';

beforeEach(() => {
  clearKeyCache();
});

describe('refusing bad keys without touching storage', () => {
  it('the foreign prefix used below is not one this deployment issues', () => {
    const loaded = parseConfig(testEnv());
    expect(loaded.ok && !loaded.config.prefixes.has(FOREIGN_PREFIX)).toBe(true);
  });

  it('a malformed key or a wrong checksum is refused before any KV, D1 or store access', async () => {
    const { key } = await createKey();
    const body = key.slice(key.lastIndexOf('_') + 1);
    const random = body.slice(0, -6);
    const prefixLen = key.lastIndexOf('_') + 1;

    // The reference: a well-formed key with a valid checksum that was never issued.
    const unknown = generateKey('kg_live').plaintext;
    const ref = countingEnv();
    const refRes = await call('/demo/x', { headers: bearer(unknown) }, { env: ref.env });
    const expected = await observable(refRes);
    expect(expected).toMatchObject({ status: 401, error: { code: 'invalid_key', message: 'The API key is not valid.' } });
    // The unknown key did reach storage: the counters see lookups.
    expect(ref.counts.kv).toBeGreaterThan(0);
    expect(ref.counts.d1).toBeGreaterThan(0);

    // Well-formed with a valid checksum, but a prefix this deployment does not issue.
    const otherPrefix = generateKey(FOREIGN_PREFIX).plaintext;
    const refused: Record<string, string> = {
      'wrong checksum (last char changed)': withCharChanged(key, key.length - 1),
      'wrong checksum (random char changed)': withCharChanged(key, prefixLen + 5),
      'wrong checksum (prefix changed)': `kg_livf_${body}`,
      'random and checksum swapped': `kg_live_${body.slice(-6)}${random}`,
      'adjacent characters transposed': key.slice(0, prefixLen) + body[1] + body[0] + body.slice(2),
      'truncated key': key.slice(0, -1),
      'one character too many': `${key}A`,
      'non-base62 character': `${key.slice(0, -1)}-`,
      'no prefix': body,
      'plain garbage': 'not-a-key',
      'unknown prefix': otherPrefix,
      'unknown prefix, upper case': `KG_LIVE_${random}${checksumOf(`KG_LIVE_${random}`)}`,
      'overlong': `kg_live_${'A'.repeat(500)}`,
      'space inside': `kg_live_ ${body}`,
    };
    if (body[0] === body[1]) delete refused['adjacent characters transposed'];

    for (const [what, presented] of Object.entries(refused)) {
      for (const headers of [bearer(presented), { 'x-api-key': presented }]) {
        const { env, counts, store } = countingStores();
        const res = await call('/demo/x', { headers }, { env });
        expect(counts, what).toEqual({ kv: 0, d1: 0 });
        expect(store.calls, what).toBe(0);
        expect(await observable(res), what).toEqual(expected);
      }
    }
  });

  it('the key-holder endpoints and the verify API also refuse bad keys without storage access', async () => {
    const { key } = await createKey();
    const unknown = generateKey('kg_live').plaintext;
    const bad = [withCharChanged(key, key.length - 1), key.slice(0, -1), generateKey(FOREIGN_PREFIX).plaintext, 'garbage'];

    const holderRef = await observable(await call('/_keygate/key', { headers: bearer(unknown) }));
    expect(holderRef).toMatchObject({ status: 401, error: { code: 'invalid_key' } });
    const verifyRef = await (await admin('/verify', { method: 'POST', json: { key: unknown } })).json();
    expect(verifyRef).toEqual({ valid: false, code: 'invalid_key', key: null, usage: null });

    for (const presented of bad) {
      const holder = countingStores();
      const res = await call('/_keygate/key', { headers: bearer(presented) }, { env: holder.env });
      expect([holder.counts, holder.store.calls], presented).toEqual([{ kv: 0, d1: 0 }, 0]);
      expect(await observable(res)).toEqual(holderRef);

      const verify = countingStores();
      const verified = await admin('/verify', { method: 'POST', json: { key: presented } }, { env: verify.env });
      expect([verify.counts, verify.store.calls], presented).toEqual([{ kv: 0, d1: 0 }, 0]);
      expect(await verified.json()).toEqual(verifyRef);
    }
  });

  it('admin authentication also refuses a malformed or bad-checksum key without storage access', async () => {
    const { key } = await createKey({ scopes: ['admin'] });
    const ref = countingEnv();
    const expected = await observable(await admin('/keys', {}, { env: ref.env, token: generateKey('kg_live').plaintext }));
    expect(expected).toMatchObject({ status: 401, error: { code: 'unauthorized' } });
    expect(ref.counts.kv + ref.counts.d1).toBeGreaterThan(0);

    for (const token of [withCharChanged(key, key.length - 1), key.slice(0, -1), generateKey(FOREIGN_PREFIX).plaintext]) {
      const { env, counts } = countingEnv();
      const res = await admin('/keys', {}, { env, token });
      expect(counts).toEqual({ kv: 0, d1: 0 });
      expect(await observable(res)).toEqual(expected);
    }
  });
});

describe('key lookup tiers', () => {
  it('a valid key used again in the same isolate is served from memory with no KV or D1 reads', async () => {
    const { key } = await createKey();
    const first = countingEnv();
    expect((await call('/demo/x', { headers: bearer(key) }, { env: first.env })).status).toBe(200);
    expect(first.counts.kv).toBeGreaterThan(0);

    const second = countingEnv();
    const res = await call('/demo/x', { headers: bearer(key) }, { env: second.env });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toContain('desc="memory"');
    expect(second.counts).toEqual({ kv: 0, d1: 0 });
  });

  it('a cold lookup is answered by KV without reading D1', async () => {
    const { key } = await createKey();
    // Warm up once so the once-a-minute last_used_at write is behind us, then start cold.
    expect((await call('/demo/x', { headers: bearer(key) })).status).toBe(200);
    clearKeyCache();

    const { env, counts } = countingEnv();
    const res = await call('/demo/x', { headers: bearer(key) }, { env });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toContain('desc="kv"');
    expect(counts).toEqual({ kv: 1, d1: 0 });
  });

  it('on a KV miss the key is read from D1 and backfilled into KV under its digest only', async () => {
    const { key, id } = await createKey({ name: 'backfill me' });
    expect((await call('/demo/x', { headers: bearer(key) })).status).toBe(200);
    const digest = digestKey(key);
    const kv = testEnv().KEYS;
    await kv.delete(KV_PREFIX + digest);
    expect(await kv.get(KV_PREFIX + digest)).toBeNull();
    clearKeyCache();

    const { env, counts } = countingEnv();
    const res = await call('/demo/x', { headers: bearer(key) }, { env });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toContain('desc="d1"');
    expect(counts.d1).toBe(1);
    expect(counts.kv).toBe(2); // the miss and the backfill write

    const raw = await kv.get(`key:${digest}`);
    expect(raw).not.toBeNull();
    expect(raw).not.toContain(key);
    expect(raw).not.toContain(randomPart(key));
    expect(JSON.parse(raw!)).toMatchObject({ id, digest, name: 'backfill me' });

    // The next cold lookup is a KV hit again.
    clearKeyCache();
    const again = countingEnv();
    expect((await call('/demo/x', { headers: bearer(key) }, { env: again.env })).status).toBe(200);
    expect(again.counts).toEqual({ kv: 1, d1: 0 });
  });

  it('an unknown well-formed key is remembered as unknown, so retrying it does not reach D1', async () => {
    const unknown = generateKey('kg_live').plaintext;
    const first = countingEnv();
    const firstRes = await observable(await call('/demo/x', { headers: bearer(unknown) }, { env: first.env }));
    expect(first.counts.d1).toBeGreaterThan(0);

    const second = countingEnv();
    const secondRes = await observable(await call('/demo/x', { headers: bearer(unknown) }, { env: second.env }));
    expect(second.counts.d1).toBe(0);
    expect(secondRes).toEqual(firstRes);
    expect(secondRes.error.code).toBe('invalid_key');
  });

  it('an unknown key is never written to KV', async () => {
    const unknown = generateKey('kg_live').plaintext;
    await call('/demo/x', { headers: bearer(unknown) });
    expect(await testEnv().KEYS.get(KV_PREFIX + (digestKey(unknown)))).toBeNull();
  });
});

describe('what storage holds', () => {
  it('D1 stores only the digest of a key, never the plaintext', async () => {
    const created = await createKey({ name: 'digest only', owner: 'team-d1' });
    const { key, id } = created;
    expect((await call('/demo/x', { headers: bearer(key) })).status).toBe(200);

    const { results } = await testEnv().DB.prepare('SELECT * FROM keys').all<Record<string, unknown>>();
    const row = results.find((r) => r.id === id);
    expect(row).toBeDefined();
    expect(row!.digest).toBe(digestKey(key));
    expect(row!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.display_start).toBe(randomPart(key).slice(0, 4));
    expect(row!.display_end).toBe(randomPart(key).slice(-4));
    for (const r of results) {
      for (const [column, value] of Object.entries(r)) {
        expect(String(value), `keys.${column}`).not.toContain(key);
        expect(String(value), `keys.${column}`).not.toContain(randomPart(key));
      }
    }
    const audit = await testEnv().DB.prepare('SELECT * FROM audit_log').all();
    expect(JSON.stringify(audit.results)).not.toContain(randomPart(key));
  });

  it('KV holds key snapshots only under key:<sha256 hex>, never the plaintext', async () => {
    const { key } = await createKey();
    expect((await call('/demo/x', { headers: bearer(key) })).status).toBe(200);
    const kv = testEnv().KEYS;
    const { keys } = await kv.list({ prefix: KV_PREFIX });
    expect(keys.map((k) => k.name)).toContain(KV_PREFIX + (digestKey(key)));
    for (const { name } of keys) {
      expect(name).toMatch(/^key:[0-9a-f]{64}$/);
      const value = await kv.get(name);
      expect(value).not.toContain(randomPart(key));
    }
  });

  it('the admin API never returns the digest or, after creation, the plaintext', async () => {
    const { key, id, digest } = await createKey();
    expect(digest).toBeUndefined();
    const text = await (await admin(`/keys/${id}`)).text();
    expect(text).not.toContain(randomPart(key));
    expect(text).not.toContain(digestKey(key));
    const list = await (await admin('/keys')).text();
    expect(list).not.toContain(randomPart(key));
    expect(list).not.toContain(digestKey(key));
  });
});
