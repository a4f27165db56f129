// Issue 14: request-count model limits (rpm/rpd) bind on every route whose JSON body names a
// model, metered or not (token model limits still need metering: `npm run check` warns, see
// scripts/check-config.mjs); routes without model limits still read no body.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Echo } from '../harness/gateway';
import { bearer, upstreamOrigin } from '../harness/gateway';
import { awayFromMinuteEdge, errorOf, gateway, postJson, STORE_KINDS } from '../limits/stores';

const origin = () => upstreamOrigin();
const body = (model: string, extra: Record<string, unknown> = {}) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe.each(STORE_KINDS)('model limits on routes without metering (%s store)', (kind) => {
  beforeEach(() => awayFromMinuteEdge());
  const gw = () =>
    gateway(kind, {
      ROUTES: [
        { path: '/plain', upstream: origin(), model_limits: { 'gpt-4o': { rpm: 1 } } },
        { path: '/open', upstream: origin() },
      ],
    });

  it('a route model rpm of 1 admits one request for that model and refuses the next', async () => {
    const g = gw();
    const { key } = await g.createKey();
    const first = await g.call('/plain/v1/generate', postJson(key, body('gpt-4o')));
    expect(first.status).toBe(200);
    // The body reached the upstream untouched.
    expect(((await first.json()) as Echo).body).toBe(body('gpt-4o'));
    const second = await g.call('/plain/v1/generate', postJson(key, body('gpt-4o', { stream: true })));
    expect(second.status).toBe(429);
    expect((await errorOf(second)).details).toMatchObject({ limit: 'model:gpt-4o:rpm' });
    // Other models are not limited by it.
    expect((await g.call('/plain/v1/generate', postJson(key, body('gpt-4o-mini')))).status).toBe(200);
  });

  it('a key’s own model rpm binds on a route without metering or route model limits', async () => {
    const g = gw();
    const { key } = await g.createKey({ model_limits: { 'claude-x': { rpm: 2 } } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await g.call('/open/v1/messages', postJson(key, body('claude-x')))).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it('a body too large to read for its model is refused, not waved through', async () => {
    const g = gw();
    const { key } = await g.createKey();
    const padded = body('gpt-4o', { padding: 'x'.repeat(1024 * 1024) });
    const res = await g.call('/plain/v1/generate', postJson(key, padded));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('payload_too_large');
  });

  it('a content-encoded body, which would hide its model, is refused', async () => {
    const g = gw();
    const { key } = await g.createKey();
    const res = await g.call('/plain/v1/generate', { method: 'POST', headers: bearer(key, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), body: new Uint8Array([0x1f, 0x8b, 0, 0]) });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe('unsupported_media_type');
  });

  it('a body that is not JSON names no model and passes through unchanged', async () => {
    const g = gw();
    const { key } = await g.createKey();
    for (let i = 0; i < 3; i++) {
      const res = await g.call('/plain/upload', { method: 'POST', headers: bearer(key, { 'content-type': 'text/plain' }), body: 'gpt-4o {' });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Echo).body).toBe('gpt-4o {');
    }
  });
});
