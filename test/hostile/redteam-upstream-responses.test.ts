// A hostile upstream's response cannot reach past its own route: no origin-wide browser
// effects, and a status the runtime cannot represent is an upstream failure, not keygate's.

import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { bearer, call, createKey, testEnv, type ErrorJson } from '../harness/gateway';

const api = () => `http://127.0.0.1:${inject('realApiPort')}`;
let routes: Record<string, unknown>[] | undefined;
function env() {
  routes ??= [
    { path: '/api', upstream: api() },
    { path: '/deep', upstream: `${api()}/v2`, strip_prefix: false },
  ];
  return testEnv({ ROUTES: routes as never });
}
const respondWith = (h: [string, string][], status = 200, prefix = '/api') => `${prefix}/respond-with?status=${status}&h=${encodeURIComponent(JSON.stringify(h))}`;

describe("a hostile upstream's response", () => {
  it("cannot clear the browser's storage and cookies for the gateway's whole origin", async () => {
    const { key } = await createKey();
    const res = await call(respondWith([['Clear-Site-Data', '"*"'], ['CLEAR-SITE-DATA', '"storage", "executionContexts"'], ['x-kept', '1']]), { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(200);
    expect(res.headers.get('clear-site-data')).toBeNull();
    expect(res.headers.get('x-kept')).toBe('1');
  });

  it('with a status past 599 answers 502 upstream_unavailable, not an internal error', async () => {
    const { key } = await createKey();
    for (const status of [600, 999]) {
      const res = await call(respondWith([], status), { headers: bearer(key) }, { env: env() });
      expect(res.status).toBe(502);
      expect(((await res.json()) as ErrorJson).error.code).toBe('upstream_unavailable');
    }
  });
});

describe('service workers on a `/` route that allows them', () => {
  it('a service-worker script at the root, whose scope would cover /admin/ui, is refused; one in a folder loads', async () => {
    const e = testEnv({ ROUTES: [{ path: '/', upstream: api(), allow_service_worker: true }] as never });
    const { key } = await createKey();
    const root = await call('/sw.js', { headers: bearer(key, { 'service-worker': 'script' }) }, { env: e });
    expect(root.status).toBe(403);
    expect(((await root.json()) as ErrorJson).error.code).toBe('forbidden');
    const scoped = await call('/static/sw.js', { headers: bearer(key, { 'service-worker': 'script' }) }, { env: e });
    expect(scoped.status).toBe(200);
  });
});

describe("an upstream's cookies stay inside its route (src/proxy/cookies.ts)", () => {
  it('Path is mapped under the route prefix and Domain is dropped, so other routes, /admin and sibling hosts never get them', async () => {
    const { key } = await createKey();
    const res = await call(
      respondWith([
        ['set-cookie', 'a=1; Path=/; HttpOnly'],
        ['set-cookie', 'b=2; path=/admin; Domain=gw.test; Secure'],
        ['set-cookie', 'c=3; SameSite=Lax'],
        ['set-cookie', 'd=4; Path=//evil/x; domain=.test'],
      ]),
      { headers: bearer(key) },
      { env: env() },
    );
    expect(res.status).toBe(200);
    expect(res.headers.getAll('set-cookie')).toEqual(['a=1; Path=/api/; HttpOnly', 'b=2; Path=/api/admin; Secure', 'c=3; SameSite=Lax', 'd=4; Path=/api']);
  });

  it('a Path the route cannot reach becomes the route prefix', async () => {
    const { key } = await createKey();
    const res = await call(respondWith([['set-cookie', 's=1; Path=/'], ['set-cookie', 't=2; Path=/v2/deep/x']], 200, '/deep'), { headers: bearer(key) }, { env: env() });
    expect(res.status).toBe(200);
    expect(res.headers.getAll('set-cookie')).toEqual(['s=1; Path=/deep', 't=2; Path=/deep/x']);
  });
});
