import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchRoute, parseConfig } from '../src/config/load';
import { admin, ADMIN_TOKEN, bearer, call, countingEnv, createKey, defaultRoutes, testEnv, upstreamOrigin, type Echo, type ErrorJson } from './harness/gateway';

type Routes = Record<string, unknown>[];

/** Every request, gateway or admin, answers 500 config_invalid naming the field. */
async function expectConfigInvalid(overrides: Record<string, unknown>, field: string): Promise<string> {
  const { env, counts } = countingEnv(testEnv(overrides));
  const messages: string[] = [];
  const requests: [string, RequestInit][] = [
    ['/demo/x', {}],
    ['/demo/x', { method: 'POST', headers: bearer('kg_live_whatever'), body: '{}' }],
    ['/nothing/here', {}],
    ['/admin/keys', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }],
    ['/admin/keys', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{}' }],
  ];
  for (const [path, init] of requests) {
    const res = await call(path, init, { env });
    const body = (await res.json()) as ErrorJson;
    expect(res.status, `${path}: ${JSON.stringify(body)}`).toBe(500);
    expect(body.error.code).toBe('config_invalid');
    expect(body.error.message).toMatch(/^Invalid configuration: /);
    expect(body.error.message).toContain(field);
    messages.push(body.error.message);
  }
  // The message is stable, and nothing was read or written with a broken configuration.
  expect(new Set(messages).size).toBe(1);
  expect(counts).toEqual({ kv: 0, d1: 0 });
  return messages[0]!;
}

const up = () => upstreamOrigin();
const route = (extra: Record<string, unknown> = {}) => ({ path: '/r', upstream: up(), ...extra });

describe('route configuration validation', () => {
  const cases: [string, () => Record<string, unknown>, string][] = [
    ['an upstream that is not http(s)', () => ({ ROUTES: [route({ upstream: 'ftp://files.example.com' })] }), 'ROUTES[0].upstream'],
    ['an upstream with a query string', () => ({ ROUTES: [route({ upstream: `${up()}/?token=x` })] }), 'ROUTES[0].upstream'],
    ['an upstream that is not a string', () => ({ ROUTES: [route({ upstream: 8080 })] }), 'ROUTES[0].upstream'],
    ['a missing upstream', () => ({ ROUTES: [{ path: '/r' }] }), 'ROUTES[0].upstream'],
    ['a path without a leading slash', () => ({ ROUTES: [route({ path: 'r' })] }), 'ROUTES[0].path'],
    ['a path with a trailing slash', () => ({ ROUTES: [route({ path: '/r/' })] }), 'ROUTES[0].path'],
    ['a path with an empty segment', () => ({ ROUTES: [route({ path: '/a//b' })] }), 'ROUTES[0].path'],
    ['a path with a dot-dot segment', () => ({ ROUTES: [route({ path: '/a/..' })] }), 'ROUTES[0].path'],
    ['an unknown HTTP method', () => ({ ROUTES: [route({ methods: ['FETCH'] })] }), 'ROUTES[0].methods[0]'],
    ['an empty method list', () => ({ ROUTES: [route({ methods: [] })] }), 'ROUTES[0].methods'],
    ['a zero timeout', () => ({ ROUTES: [route({ timeout_ms: 0 })] }), 'ROUTES[0].timeout_ms'],
    ['a bad scope name', () => ({ ROUTES: [route({ scopes: ['Has Spaces'] })] }), 'ROUTES[0].scopes[0]'],
    ['a bad key header name', () => ({ ROUTES: [route({ key_headers: ['bad header'] })] }), 'ROUTES[0].key_headers[0]'],
    ['a lower-case upstream secret name', () => ({ ROUTES: [route({ upstream_auth: { header: 'authorization', secret: 'token' } })] }), 'ROUTES[0].upstream_auth.secret'],
    ['a header metering format without a header', () => ({ ROUTES: [route({ metering: { format: 'header' } })] }), 'ROUTES[0].metering.header'],
    ['a negative limit', () => ({ ROUTES: [route({ limits: { rpm: -1 } })] }), 'ROUTES[0].limits.rpm'],
    ['an unknown field (a typo)', () => ({ ROUTES: [route({ upstrem: up() })] }), 'upstrem'],
    ['a bad second route', () => ({ ROUTES: [route(), { path: '/s', upstream: 'ftp://x' }] }), 'ROUTES[1].upstream'],
    ['ROUTES that is not a list', () => ({ ROUTES: { path: '/r', upstream: up() } }), 'ROUTES'],
    ['ROUTES that is a string but not JSON', () => ({ ROUTES: '[{"path": "/r",' }), 'ROUTES: is not valid JSON'],
    ['a bad key prefix', () => ({ KEY_PREFIX: 'KG-Live' }), 'KEY_PREFIX'],
    ['a non-numeric cache TTL', () => ({ KEY_CACHE_TTL_MS: 'soon' }), 'KEY_CACHE_TTL_MS'],
  ];

  for (const [what, overrides, field] of cases) {
    it(`refuses every request with config_invalid naming ${field} for ${what}`, async () => {
      await expectConfigInvalid(overrides(), field);
    });
  }

  // BUG (src/config/schema.ts, upstreamUrl): the refinements call `new URL(u)` even when the
  // `.url()` check already failed (zod 4 keeps running refinements after a non-fatal issue),
  // so a non-URL upstream throws "Invalid URL" out of parseConfig and every request answers
  // 500 internal_error instead of config_invalid. Left failing on purpose; see the report.
  it('refuses every request with config_invalid naming ROUTES[0].upstream for an upstream that is not a URL', async () => {
    expect(() => parseConfig({ ROUTES: [route({ upstream: 'not a url' })] })).not.toThrow();
    await expectConfigInvalid({ ROUTES: [route({ upstream: 'not a url' })] }, 'ROUTES[0].upstream');
  });

  it('refuses duplicate route paths', async () => {
    const message = await expectConfigInvalid({ ROUTES: [route({ path: '/a' }), route({ path: '/b' }), route({ path: '/a' })] }, 'ROUTES[2].path');
    expect(message).toContain('duplicate');
  });

  it('refuses routes on paths keygate reserves for itself', async () => {
    for (const path of ['/admin', '/admin/keys', '/_keygate', '/_keygate/x']) {
      const message = await expectConfigInvalid({ ROUTES: [route(), route({ path })] }, 'ROUTES[1].path');
      expect(message).toContain('reserved');
    }
  });

  it('names at most a few problems, each with its field', () => {
    const result = parseConfig({ ROUTES: [{ path: 'a' }, { path: 'b' }, { path: 'c' }, { path: 'd' }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message.split('; ').length).toBeLessThanOrEqual(3);
    for (const part of result.message.split('; ')) expect(part).toMatch(/^ROUTES\[\d\]\.\w+: /);
  });

  it('serves again as soon as the configuration is fixed', async () => {
    const { key } = await createKey();
    const broken = await call('/demo/x', { headers: bearer(key) }, { env: testEnv({ ROUTES: [route({ upstream: 'ftp://x' })] }) });
    expect(broken.status).toBe(500);
    const fixed = await call('/demo/x', { headers: bearer(key) });
    expect(fixed.status).toBe(200);
  });
});

describe('route matching', () => {
  it('the longest matching prefix wins, on whole path segments', async () => {
    const { key } = await createKey();
    const env = testEnv({
      ROUTES: [
        { path: '/p', upstream: `${up()}/short` },
        { path: '/p/deep', upstream: `${up()}/long` },
        { path: '/p/deep/deeper', upstream: `${up()}/longest` },
      ],
    });
    const pathSeen = async (path: string) => ((await (await call(path, { headers: bearer(key) }, { env })).json()) as Echo).path;
    expect(await pathSeen('/p/x')).toBe('/short/x');
    expect(await pathSeen('/p')).toBe('/short');
    expect(await pathSeen('/p/deep/x')).toBe('/long/x');
    expect(await pathSeen('/p/deep')).toBe('/long');
    expect(await pathSeen('/p/deeper/x')).toBe('/short/deeper/x');
    expect(await pathSeen('/p/deep/deeper/y')).toBe('/longest/y');
    expect(await pathSeen('/p/deep/deeperx')).toBe('/long/deeperx');
  });

  it('the order routes are listed in does not matter', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(['/a', '/a/b', '/a/b/c', '/b', '/'], { minLength: 1 }),
        fc.constantFrom('/a', '/a/x', '/a/b', '/a/b/x', '/a/b/c/d', '/b/c', '/c', '/'),
        (paths, request) => {
          const result = parseConfig({ ROUTES: paths.map((path) => ({ path, upstream: 'https://up.example' })) });
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          const matched = matchRoute(result.config, request)?.path;
          const expected = paths
            .filter((p) => p === '/' || request === p || request.startsWith(`${p}/`))
            .sort((x, y) => y.length - x.length)[0];
          expect(matched).toBe(expected);
        },
      ),
    );
  });

  it('answers 404 route_not_found for a path no route covers', async () => {
    const { key } = await createKey();
    for (const path of ['/unknown', '/demox', '/Demo/x', '/']) {
      const res = await call(path, { headers: bearer(key) });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as ErrorJson).error.code).toBe('route_not_found');
    }
  });

  it('a "/" route catches every path no longer route matches, except /admin', async () => {
    const { key } = await createKey();
    const env = testEnv({ ROUTES: [{ path: '/', upstream: `${up()}/root` }, { path: '/api', upstream: `${up()}/api-base` }] });
    const seen = async (path: string) => ((await (await call(path, { headers: bearer(key) }, { env })).json()) as Echo).path;
    expect(await seen('/anything/x')).toBe('/root/anything/x');
    expect(await seen('/api/v1')).toBe('/api-base/v1');
    expect((await admin('/keys', {}, { env })).status).toBe(200);
  });

  it('accepts ROUTES given as a JSON string (as set with --var or .dev.vars)', async () => {
    const { key } = await createKey();
    const env = testEnv({ ROUTES: JSON.stringify(defaultRoutes()) });
    const res = await call('/demo/v1/x', { headers: bearer(key) }, { env });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Echo).path).toBe('/v1/x');
    const custom = await call('/custom/x', { method: 'DELETE', headers: bearer(key) }, { env });
    expect(custom.status).toBe(405);
  });
});

describe('parseConfig on arbitrary input', () => {
  const FIELDS = ['KEY_PREFIX', 'KEY_PREFIXES', 'ROUTES', 'PRICES', 'DEFAULT_PRICE', 'KEY_CACHE_TTL_MS', 'STORE_TIMEOUT_MS', 'MAX_KEYS_PER_OWNER'];

  function check(source: Record<string, unknown>): void {
    let result: ReturnType<typeof parseConfig>;
    try {
      result = parseConfig(source);
    } catch (err) {
      throw new Error(`parseConfig threw ${String(err)} on ${JSON.stringify(source)}`);
    }
    if (result.ok) {
      expect(Array.isArray(result.config.ROUTES)).toBe(true);
      expect(result.config.sortedRoutes).toHaveLength(result.config.ROUTES.length);
      expect(result.config.prefixes.has(result.config.KEY_PREFIX)).toBe(true);
    } else {
      expect(typeof result.message).toBe('string');
      expect(result.message.length).toBeGreaterThan(0);
    }
  }

  it('never throws on arbitrary JSON values in any field, and either succeeds or explains', () => {
    const value = fc.oneof(fc.jsonValue(), fc.jsonValue().map((v) => JSON.stringify(v)));
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...FIELDS), value), check), { numRuns: 3000 });
    fc.assert(fc.property(fc.jsonValue(), (v) => check({ ROUTES: v })), { numRuns: 1000 });
  });

  it('never throws on route lists with arbitrary JSON in every route field', () => {
    const routeFields = ['path', 'upstream', 'strip_prefix', 'methods', 'scopes', 'key_headers', 'key_query_param', 'upstream_auth', 'timeout_ms', 'limits', 'model_limits', 'budget', 'metering', 'on_store_error'];
    const plausible = fc.oneof(
      fc.jsonValue(),
      fc.string(),
      fc.constantFrom('/r', 'https://up.example', 'http://', 'http://[::1', 'not a url', '', '/', 'header', 'openai'),
    );
    const routeArb = fc.dictionary(fc.constantFrom(...routeFields), plausible, { maxKeys: 6 });
    fc.assert(
      fc.property(fc.array(routeArb, { maxLength: 4 }), fc.boolean(), (routes, asString) => check({ ROUTES: asString ? JSON.stringify(routes) : routes })),
      { numRuns: 3000 },
    );
  });
});
