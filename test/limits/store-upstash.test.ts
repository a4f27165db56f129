import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { UpstashLimitStore } from '../../src/limits/upstash-store';
import { limitStoreContract } from './contract';

limitStoreContract('Upstash', () => new UpstashLimitStore({ url: inject('upstashUrl'), token: inject('upstashToken') }));

describe('Upstash admission when Redis has lost its scripts', () => {
  it('falls back to EVAL after NOSCRIPT and still admits exactly', async () => {
    const store = new UpstashLimitStore({ url: inject('upstashUrl'), token: inject('upstashToken') });
    const keyId = `key_NOSCRIPT${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
    const rpm = { name: 'rpm', kind: 'requests' as const, limit: 2, windowMs: 60_000, cost: 1 };
    expect((await store.admit({ keyId, counters: [rpm], now: Date.now() })).status).toBe('admitted');
    // A restarted or failed-over Redis has an empty script cache.
    expect(await store.redis.scriptFlush()).toBe('OK');
    expect((await store.admit({ keyId, counters: [rpm], now: Date.now() })).status).toBe('admitted');
    expect((await store.admit({ keyId, counters: [rpm], now: Date.now() })).status).toBe('rate_limited');
  });
});
