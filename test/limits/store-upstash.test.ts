import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { UpstashLimitStore } from '../../src/limits/upstash-store';
import { isRequestFault } from '../../src/limits/guard';
import { bucketOf } from '../../src/limits/store';
import { counterKey, keyCounterId } from '../../src/limits/upstash-scripts';
import { limitStoreContract } from './contract';
import { groupCommitContract } from './group-commit-contract';
import { awayFromMinuteEdge } from './stores';

limitStoreContract('Upstash', () => new UpstashLimitStore({ url: inject('upstashUrl'), token: inject('upstashToken') }));

groupCommitContract(
  'Upstash',
  (batching) => new UpstashLimitStore({ url: inject('upstashUrl'), token: inject('upstashToken'), batching }),
  async (store, input) => {
    // The key's minute window held as a hash: its INCRBY answers WRONGTYPE, a request fault.
    const name = counterKey('rpm', keyCounterId(input.keyId, input.owner?.id), bucketOf(input.now, 60_000));
    await (store as UpstashLimitStore).redis.hset(name, { not: 'a counter' });
    return input;
  },
);

describe('Upstash batched admission errors', () => {
  it('reports a WRONGTYPE reply inside a batch as a request fault, not a store fault', async () => {
    const store = new UpstashLimitStore({ url: inject('upstashUrl'), token: inject('upstashToken') });
    const keyId = `key_GCW${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
    const now = Date.now();
    await store.redis.hset(counterKey('rpm', keyCounterId(keyId, undefined), bucketOf(now, 60_000)), { not: 'a counter' });
    const rpm = { name: 'rpm', kind: 'requests' as const, limit: 2, windowMs: 60_000, cost: 1 };
    const lead = store.admit({ keyId: `key_GCX${crypto.randomUUID().slice(0, 8).toUpperCase()}`, counters: [rpm], now });
    const error = await store.admit({ keyId, counters: [rpm], now }).catch((e: unknown) => e);
    expect((await lead).status).toBe('admitted');
    expect(isRequestFault(error)).toBe(true);
  });
});

describe('Upstash admission when Redis has lost its scripts', () => {
  it('falls back to EVAL after NOSCRIPT and still admits exactly', async () => {
    const store = new UpstashLimitStore({ url: inject('upstashUrl'), token: inject('upstashToken') });
    const keyId = `key_NOSCRIPT${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
    const rpm = { name: 'rpm', kind: 'requests' as const, limit: 2, windowMs: 60_000, cost: 1 };
    await awayFromMinuteEdge(); // each admission takes the real clock's minute
    expect((await store.admit({ keyId, counters: [rpm], now: Date.now() })).status).toBe('admitted');
    // A restarted or failed-over Redis has an empty script cache.
    expect(await store.redis.scriptFlush()).toBe('OK');
    expect((await store.admit({ keyId, counters: [rpm], now: Date.now() })).status).toBe('admitted');
    expect((await store.admit({ keyId, counters: [rpm], now: Date.now() })).status).toBe('rate_limited');
  });
});
