// Admin writes that cannot fail half-way or be bent: expiries of any valid date (KV's
// `expiration` is 32-bit), bounded inputs (400, never a 500 later), list searches of any
// allowed length, concurrent PATCHes that both land, plaintext responses that are never
// cached, and request ids on every response.

import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import { admin, bearer, call, createKey, testEnv, type ErrorJson } from '../harness/gateway';

const Y2040 = '2040-06-01T00:00:00.000Z';

async function refusal(res: Response) {
  const body = (await res.json()) as ErrorJson;
  return { status: res.status, code: body.error.code, paths: [...new Set((body.error.details ?? []).map((d) => d.path))] };
}

const post = (path: string, json?: unknown, e?: Env) => admin(path, { method: 'POST', json: json ?? {} }, { env: e });

describe('expiries after 2038', () => {
  it('a key created to expire in 2040 is issued and works through the gateway', async () => {
    const res = await admin('/keys', { method: 'POST', json: { name: 'y2040', expires_at: Y2040 } });
    expect(res.status).toBe(201);
    const k = (await res.json()) as { id: string; key: string; expires_at: string; marker?: string };
    expect(k.expires_at).toBe(Y2040);
    expect(k.marker).toBeUndefined();
    expect((await call('/demo/x', { headers: bearer(k.key) })).status).toBe(200);
  });

  it('a key extended to 2040 and then deactivated is refused', async () => {
    const k = await createKey({ name: 'extend then deactivate' });
    expect((await post(`/keys/${k.id}/extend`, { expires_at: Y2040 })).status).toBe(200);
    expect((await call('/demo/x', { headers: bearer(k.key) })).status).toBe(200);
    const off = await post(`/keys/${k.id}/deactivate`);
    expect(off.status).toBe(200);
    expect(((await off.json()) as { status: string }).status).toBe('inactive');
    const res = await call('/demo/x', { headers: bearer(k.key) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorJson).error.code).toBe('key_inactive');
  });

  it('accepts the last representable expiry, 9999-12-31, and the key list still answers', async () => {
    const k = await createKey({ expires_at: '9999-12-31T23:59:59.999Z' });
    expect(k.expires_at).toBe('9999-12-31T23:59:59.999Z');
    expect((await admin('/keys?limit=5')).status).toBe(200);
  });

  it('refuses a ttl_seconds or expires_at beyond the bounds with 400, naming the field, on create and extend', async () => {
    for (const ttl of [9e12, 100 * 365 * 86_400 + 1, Number.MAX_SAFE_INTEGER]) {
      expect(await refusal(await post('/keys', { ttl_seconds: ttl })), String(ttl)).toEqual({ status: 400, code: 'validation_failed', paths: ['ttl_seconds'] });
    }
    const k = await createKey({});
    expect(await refusal(await post(`/keys/${k.id}/extend`, { ttl_seconds: 9e12 }))).toEqual({ status: 400, code: 'validation_failed', paths: ['ttl_seconds'] });
    // An offset that puts the instant past year 9999 in UTC.
    expect(await refusal(await post('/keys', { expires_at: '9999-12-31T23:59:59-05:00' }))).toEqual({ status: 400, code: 'validation_failed', paths: ['expires_at'] });
    // Nothing half-written: the list and the key itself still answer.
    expect((await admin('/keys?limit=100')).status).toBe(200);
    expect((await admin(`/keys/${k.id}`)).status).toBe(200);
  });

  it('a 100-year ttl (the maximum) is accepted and listed', async () => {
    const k = await createKey({ ttl_seconds: 100 * 365 * 86_400 });
    expect(Date.parse(k.expires_at as string)).toBeGreaterThan(Date.parse('2120-01-01T00:00:00Z'));
    expect((await admin('/keys?limit=100')).status).toBe(200);
  });
});

describe('any expiry or amount a client sends', () => {
  it('is either accepted (201) or refused with 400, and the key list keeps answering (property)', async () => {
    const number = fc.oneof(fc.double(), fc.integer({ min: -(2 ** 53), max: 2 ** 53 }), fc.constantFrom(9e12, 1.8e302, 2 ** 31, 2 ** 53, 1e9, 1e12));
    await fc.assert(
      fc.asyncProperty(
        fc.record({ ttl_seconds: number }, { requiredKeys: [] }),
        fc.option(number, { nil: undefined }),
        fc.option(number, { nil: undefined }),
        async (expiry, usd, tpm) => {
          const body: Record<string, unknown> = { ...expiry };
          if (usd !== undefined) body.budget = { usd, period: 'total' };
          if (tpm !== undefined) body.limits = { tpm };
          const res = await admin('/keys', { method: 'POST', json: body });
          expect([201, 400], JSON.stringify(body)).toContain(res.status);
        },
      ),
      { numRuns: 40, seed: 8 },
    );
    const list = await admin('/keys?limit=100');
    expect(list.status).toBe(200);
    for (const k of ((await list.json()) as { keys: { id: string }[] }).keys.slice(0, 10)) {
      expect((await admin(`/keys/${k.id}/usage`)).status).toBe(200);
    }
  });
});

describe('a create whose KV write fails after the D1 commit', () => {
  it('still returns the plaintext (marker pending), the key works from D1, and the next admin call writes the snapshot', async () => {
    const good = testEnv();
    const brokenKv = new Proxy(good.KEYS, {
      get(target, prop, receiver) {
        if (prop === 'put') return () => Promise.reject(new Error('KV put failed'));
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const bad = { ...good, KEYS: brokenKv } as Env;
    const res = await admin('/keys', { method: 'POST', json: { name: 'kv down', expires_at: Y2040 } }, { env: bad });
    expect(res.status).toBe(201);
    const k = (await res.json()) as { id: string; key: string; marker?: string };
    expect(k.key).toMatch(/^kg_live_/);
    expect(k.marker).toBe('pending');
    expect((await call('/demo/x', { headers: bearer(k.key) }, { env: good })).status).toBe(200);

    const audit = (await (await admin(`/audit?key_id=${k.id}`)).json()) as { entries: { action: string; changes: string[] }[] };
    expect(audit.entries.map((e) => e.action).sort()).toEqual(['create', 'marker_pending']);
    expect(audit.entries.find((e) => e.action === 'marker_pending')?.changes).toEqual(['kv']);

    // Any admin call retries it (after its response); then the outbox is empty.
    expect((await admin('/keys?limit=1')).status).toBe(200);
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM outbox WHERE key_id = ?').bind(k.id).first<{ n: number }>();
    expect(left?.n).toBe(0);
    const after = (await (await admin(`/audit?key_id=${k.id}`)).json()) as { entries: { action: string }[] };
    expect(after.entries[0]?.action).toBe('marker_written');
  });
});

describe('bounded money and count fields', () => {
  it('refuses a budget of 1.8e302 USD and limits past what the arithmetic holds, with 400 naming the field', async () => {
    expect(await refusal(await post('/keys', { budget: { usd: 1.8e302, period: 'total' } }))).toEqual({ status: 400, code: 'validation_failed', paths: ['budget.usd'] });
    expect(await refusal(await post('/keys', { limits: { tpm: 1e300 } }))).toEqual({ status: 400, code: 'validation_failed', paths: ['limits.tpm'] });
    expect(await refusal(await post('/keys', { model_limits: { 'gpt-4o': { rpm: 2 ** 60 } } }))).toEqual({
      status: 400,
      code: 'validation_failed',
      paths: ['model_limits.gpt-4o.rpm'],
    });
    const k = await createKey({});
    expect(await refusal(await admin(`/keys/${k.id}`, { method: 'PATCH', json: { budget: { usd: 1e10, period: 'day' } } }))).toEqual({
      status: 400,
      code: 'validation_failed',
      paths: ['budget.usd'],
    });
  });

  it('a key at the largest budget reports finite usage', async () => {
    const k = await createKey({ budget: { usd: 1e9, period: 'total' }, limits: { rpm: 1e12 } });
    const res = await admin(`/keys/${k.id}/usage`);
    expect(res.status).toBe(200);
    const usage = (await res.json()) as { budget: { usd: number; remaining_usd: number } };
    expect(usage.budget).toMatchObject({ usd: 1e9, remaining_usd: 1e9 });
  });

  it('the OpenAPI document states the maximum of each bounded field', async () => {
    const doc = (await (await call('/admin/openapi.json')).json()) as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    const create = JSON.stringify(doc.components.schemas.CreateKey);
    expect(create).toContain('"maximum":1000000000');
    expect(create).toContain('"maximum":1000000000000');
    expect(create).toContain(`"maximum":${100 * 365 * 86_400}`);
  });
});

describe('searching the key list', () => {
  it('answers every q the schema allows (49 chars, 25 %, 200 chars, wildcards) without a 500', async () => {
    await createKey({ name: '100% literal_name' });
    for (const q of ['a'.repeat(49), '%'.repeat(25), 'x'.repeat(200), '_%\\[*?', '%_'.repeat(100)]) {
      const res = await admin(`/keys?q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
    }
    const hit = (await (await admin(`/keys?q=${encodeURIComponent('0% LITERAL_')}`)).json()) as { keys: { name: string }[] };
    expect(hit.keys.map((k) => k.name)).toEqual(['100% literal_name']);
  });

  it('never fails for any string up to 200 characters (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200, unit: 'binary' }), async (q) => {
        const res = await admin(`/keys?limit=1&q=${encodeURIComponent(q)}`);
        // A string zod counts as longer than 200 (surrogate pairs count 2) is a 400, never a 500.
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: 40, seed: 15 },
    );
  });
});

describe('concurrent PATCHes', () => {
  it('an edit of limits and an edit of budget sent together both land', async () => {
    for (let round = 0; round < 3; round++) {
      const k = await createKey({ name: `race ${round}` });
      const [a, b] = await Promise.all([
        admin(`/keys/${k.id}`, { method: 'PATCH', json: { limits: { rpm: 7 } } }),
        admin(`/keys/${k.id}`, { method: 'PATCH', json: { budget: { usd: 3, period: 'day' } } }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const now = (await (await admin(`/keys/${k.id}`)).json()) as { limits: unknown; budget: unknown };
      expect(now.limits).toEqual({ rpm: 7 });
      expect(now.budget).toEqual({ usd: 3, period: 'day' });
    }
  });
});

describe('response headers', () => {
  it('create and rotate answers carry Cache-Control: no-store and an x-request-id', async () => {
    const created = await admin('/keys', { method: 'POST', json: { name: 'headers' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.headers.get('x-request-id')).toMatch(/^req_/);
    const { id } = (await created.json()) as { id: string };
    const rotated = await post(`/keys/${id}/rotate`, { grace_seconds: 0 });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    expect(rotated.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('keeps a client x-request-id on admin and key-holder successes', async () => {
    const k = await createKey({});
    const listed = await admin('/keys?limit=1', { headers: { 'x-request-id': 'corr-123' } });
    expect(listed.headers.get('x-request-id')).toBe('corr-123');
    const self = await call('/_keygate/key', { headers: bearer(k.key) });
    expect(self.status).toBe(200);
    expect(self.headers.get('x-request-id')).toMatch(/^req_/);
  });
});

describe('a row with an out-of-range expiry (written before the bounds existed)', () => {
  it('still lists and reads', async () => {
    const k = await createKey({ name: 'legacy far expiry' });
    await env.DB.prepare('UPDATE keys SET expires_at = ? WHERE id = ?').bind(9e15, k.id).run();
    expect((await admin('/keys?limit=100')).status).toBe(200);
    const res = await admin(`/keys/${k.id}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { expires_at: string }).expires_at).toBe('+275760-09-13T00:00:00.000Z');
  });
});
