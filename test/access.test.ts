import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hasScopes, requiredScopes } from '../src/access/access';
import { cidrContains, parseCidr, parseIp } from '../src/access/cidr';
import { isValidRefererPattern, refererAllowed } from '../src/access/referer';
import { clearKeyCache } from '../src/keys/key-store';
import { admin, bearer, call, createKey, type ErrorJson } from './harness/gateway';

/** Calls /demo/x (or `path`) with the key and extra headers; returns the status and error code. */
async function attempt(key: string, headers: Record<string, string> = {}, init: RequestInit & { path?: string } = {}) {
  const { path = '/demo/x', ...rest } = init;
  const res = await call(path, { ...rest, headers: bearer(key, headers) });
  if (res.status < 400) {
    await res.body?.cancel();
    return { status: res.status, code: null as string | null };
  }
  // HEAD responses carry no body: only the status is observable.
  const text = await res.text();
  return { status: res.status, code: text ? (JSON.parse(text) as ErrorJson).error.code : null };
}

const OK = { status: 200, code: null };
const refused = (code: string, status = 403) => ({ status, code });

async function revoke(id: string) {
  const res = await admin(`/keys/${id}/revoke`, { method: 'POST', json: { reason: 'compromised' } });
  expect(res.status).toBe(200);
}
async function setActive(id: string, active: boolean) {
  const res = await admin(`/keys/${id}/${active ? 'activate' : 'deactivate'}`, { method: 'POST' });
  expect(res.status).toBe(200);
}

beforeEach(() => clearKeyCache());
afterEach(() => vi.useRealTimers());

describe('key state', () => {
  it('a revoked key is refused at once in the same isolate, even while its record is cached', async () => {
    const { key, id } = await createKey();
    expect(await attempt(key)).toEqual(OK);
    const cached = await call('/demo/x', { headers: bearer(key) });
    expect(cached.headers.get('server-timing')).toContain('desc="memory"');
    await revoke(id);
    expect(await attempt(key)).toEqual(refused('key_revoked', 401));
  });

  it('a revoked key stays revoked: it cannot be reactivated', async () => {
    const { key, id } = await createKey();
    await revoke(id);
    expect((await admin(`/keys/${id}/activate`, { method: 'POST' })).status).toBe(409);
    expect(await attempt(key)).toEqual(refused('key_revoked', 401));
  });

  it('a deactivated key is refused and works again once activated', async () => {
    const { key, id } = await createKey();
    expect(await attempt(key)).toEqual(OK);
    await setActive(id, false);
    expect(await attempt(key)).toEqual(refused('key_inactive'));
    await setActive(id, true);
    expect(await attempt(key)).toEqual(OK);
  });

  it('a key is refused from its expiry on, even while its record is cached', async () => {
    const now = Date.now();
    const expiresAt = now + 3000;
    const { key } = await createKey({ expires_at: new Date(expiresAt).toISOString() });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    expect(await attempt(key)).toEqual(OK);
    vi.setSystemTime(expiresAt - 1);
    expect(await attempt(key)).toEqual(OK);
    vi.setSystemTime(expiresAt);
    expect(await attempt(key)).toEqual(refused('key_expired', 401));
    vi.setSystemTime(expiresAt + 86_400_000);
    expect(await attempt(key)).toEqual(refused('key_expired', 401));
  });

  it('an extended key works again after expiring', async () => {
    const now = Date.now();
    const { key, id } = await createKey({ ttl_seconds: 2 });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now + 5000);
    expect(await attempt(key)).toEqual(refused('key_expired', 401));
    expect((await admin(`/keys/${id}/extend`, { method: 'POST', json: { ttl_seconds: 3600 } })).status).toBe(200);
    expect(await attempt(key)).toEqual(OK);
  });
});

describe('the order of access checks', () => {
  // format/checksum -> lookup -> active -> revoked -> expired -> IP -> referer -> scopes.
  const failsEverything = { allowed_ips: ['10.0.0.0/8'], allowed_referers: ['example.com'], scopes: ['other'] };
  const strangerHeaders = { 'cf-connecting-ip': '192.0.2.9', referer: 'https://evil.test/' };

  it('reports the first failing check, in the documented order', async () => {
    const now = Date.now();
    const deactivated = await createKey({ ...failsEverything, ttl_seconds: 1 });
    await setActive(deactivated.id, false);
    const revokedKey = await createKey({ ...failsEverything, ttl_seconds: 1 });
    await revoke(revokedKey.id);
    const expired = await createKey({ ...failsEverything, ttl_seconds: 1 });
    const wrongIp = await createKey(failsEverything);
    const wrongReferer = await createKey({ ...failsEverything, allowed_ips: [] });
    const wrongScope = await createKey({ ...failsEverything, allowed_ips: [], allowed_referers: [] });

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now + 10_000);
    expect(await attempt(deactivated.key, strangerHeaders)).toEqual(refused('key_inactive'));
    expect(await attempt(revokedKey.key, strangerHeaders)).toEqual(refused('key_revoked', 401));
    expect(await attempt(expired.key, strangerHeaders)).toEqual(refused('key_expired', 401));
    expect(await attempt(wrongIp.key, strangerHeaders)).toEqual(refused('ip_not_allowed'));
    expect(await attempt(wrongReferer.key, strangerHeaders)).toEqual(refused('referer_not_allowed'));
    expect(await attempt(wrongScope.key, strangerHeaders)).toEqual(refused('insufficient_scope'));
    // A typo in any of them is caught by the checksum before the lookup.
    expect(await attempt(`${deactivated.key.slice(0, -1)}${deactivated.key.endsWith('A') ? 'B' : 'A'}`, strangerHeaders)).toEqual(refused('invalid_key', 401));
  });

  it('a key revoked after being deactivated reports key_revoked (revocation is final)', async () => {
    const { key, id } = await createKey();
    await setActive(id, false);
    await revoke(id);
    expect(await attempt(key)).toEqual(refused('key_revoked', 401));
  });
});

describe('source IP allowlists (cf-connecting-ip)', () => {
  const ip = (addr: string | null): Record<string, string> => (addr === null ? {} : { 'cf-connecting-ip': addr });

  it('admits only addresses inside an IPv4 CIDR', async () => {
    const { key } = await createKey({ allowed_ips: ['203.0.113.0/24'] });
    expect(await attempt(key, ip('203.0.113.0'))).toEqual(OK);
    expect(await attempt(key, ip('203.0.113.255'))).toEqual(OK);
    expect(await attempt(key, ip('203.0.114.1'))).toEqual(refused('ip_not_allowed'));
    expect(await attempt(key, ip('203.0.112.255'))).toEqual(refused('ip_not_allowed'));
  });

  it('refuses a request without a usable client address when a list is set', async () => {
    const { key } = await createKey({ allowed_ips: ['0.0.0.0/0', '::/0'] });
    expect(await attempt(key, ip(null))).toEqual(refused('ip_not_allowed'));
    expect(await attempt(key, ip('not-an-ip'))).toEqual(refused('ip_not_allowed'));
    expect(await attempt(key, ip('203.0.113.1'))).toEqual(OK);
  });

  it('admits any address when the key has no list', async () => {
    const { key } = await createKey();
    expect(await attempt(key, ip(null))).toEqual(OK);
    expect(await attempt(key, ip('2001:db8::1'))).toEqual(OK);
  });

  it('treats a bare address as a single host (/32)', async () => {
    const { key } = await createKey({ allowed_ips: ['192.0.2.1'] });
    expect(await attempt(key, ip('192.0.2.1'))).toEqual(OK);
    expect(await attempt(key, ip('192.0.2.2'))).toEqual(refused('ip_not_allowed'));
  });

  it('admits only addresses inside an IPv6 CIDR, in any notation', async () => {
    const { key } = await createKey({ allowed_ips: ['2001:db8::/32'] });
    expect(await attempt(key, ip('2001:db8::1'))).toEqual(OK);
    expect(await attempt(key, ip('2001:DB8:FFFF:0:0:0:0:1'))).toEqual(OK);
    expect(await attempt(key, ip('2001:0db8:0000:0000:0000:0000:0000:0001'))).toEqual(OK);
    expect(await attempt(key, ip('2001:db9::1'))).toEqual(refused('ip_not_allowed'));
    expect(await attempt(key, ip('203.0.113.1'))).toEqual(refused('ip_not_allowed'));
  });

  it('a /128 admits exactly one IPv6 address', async () => {
    const { key } = await createKey({ allowed_ips: ['2001:db8::7/128'] });
    expect(await attempt(key, ip('2001:db8:0:0::7'))).toEqual(OK);
    expect(await attempt(key, ip('2001:db8::8'))).toEqual(refused('ip_not_allowed'));
    expect(await attempt(key, ip('2001:db8::6'))).toEqual(refused('ip_not_allowed'));
  });

  it('0.0.0.0/0 admits every IPv4 client, ::/0 every client', async () => {
    const v4 = await createKey({ allowed_ips: ['0.0.0.0/0'] });
    expect(await attempt(v4.key, ip('198.51.100.7'))).toEqual(OK);
    expect(await attempt(v4.key, ip('255.255.255.255'))).toEqual(OK);
    expect(await attempt(v4.key, ip('2001:db8::1'))).toEqual(refused('ip_not_allowed'));
    const all = await createKey({ allowed_ips: ['::/0'] });
    expect(await attempt(all.key, ip('2001:db8::1'))).toEqual(OK);
    expect(await attempt(all.key, ip('198.51.100.7'))).toEqual(OK);
  });

  it('matches IPv4-mapped IPv6 clients and ranges as the IPv4 address they carry', async () => {
    const v4List = await createKey({ allowed_ips: ['198.51.100.0/24'] });
    expect(await attempt(v4List.key, ip('::ffff:198.51.100.20'))).toEqual(OK);
    expect(await attempt(v4List.key, ip('::ffff:c633:6414'))).toEqual(OK); // 198.51.100.20 in hex
    expect(await attempt(v4List.key, ip('::ffff:198.51.101.20'))).toEqual(refused('ip_not_allowed'));
    const mappedList = await createKey({ allowed_ips: ['::ffff:198.51.100.0/120'] });
    expect(await attempt(mappedList.key, ip('198.51.100.20'))).toEqual(OK);
    expect(await attempt(mappedList.key, ip('198.51.101.20'))).toEqual(refused('ip_not_allowed'));
  });

  it('admits a client matching any entry of a mixed list', async () => {
    const { key } = await createKey({ allowed_ips: ['10.1.0.0/16', '2001:db8:abcd::/48', '192.0.2.50'] });
    expect(await attempt(key, ip('10.1.200.3'))).toEqual(OK);
    expect(await attempt(key, ip('2001:db8:abcd:12::1'))).toEqual(OK);
    expect(await attempt(key, ip('192.0.2.50'))).toEqual(OK);
    expect(await attempt(key, ip('10.2.0.1'))).toEqual(refused('ip_not_allowed'));
    expect(await attempt(key, ip('2001:db8:abce::1'))).toEqual(refused('ip_not_allowed'));
  });

  it('ignores X-Forwarded-For: only cf-connecting-ip counts', async () => {
    const { key } = await createKey({ allowed_ips: ['10.0.0.0/8'] });
    expect(await attempt(key, { 'x-forwarded-for': '10.0.0.1', 'cf-connecting-ip': '192.0.2.1' })).toEqual(refused('ip_not_allowed'));
    expect(await attempt(key, { 'x-forwarded-for': '10.0.0.1', 'x-real-ip': '10.0.0.1' })).toEqual(refused('ip_not_allowed'));
  });

  it('refuses to create a key with an allowlist entry that is not an address or CIDR', async () => {
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', '256.0.0.1', 'example.com', '10.0.0.0/8/8']) {
      const res = await admin('/keys', { method: 'POST', json: { allowed_ips: [bad] } });
      expect(res.status, bad).toBe(400);
    }
  });
});

describe('referer allowlists', () => {
  it('an exact host admits that host only, on any path and scheme', async () => {
    const { key } = await createKey({ allowed_referers: ['example.com'] });
    expect(await attempt(key, { referer: 'https://example.com/page?q=1' })).toEqual(OK);
    expect(await attempt(key, { referer: 'http://EXAMPLE.com/' })).toEqual(OK);
    expect(await attempt(key, { referer: 'https://www.example.com/' })).toEqual(refused('referer_not_allowed'));
    expect(await attempt(key, { referer: 'https://example.com.evil.test/' })).toEqual(refused('referer_not_allowed'));
    expect(await attempt(key, { referer: 'https://notexample.com/' })).toEqual(refused('referer_not_allowed'));
  });

  it('*.example.com admits subdomains at any depth but not the apex', async () => {
    const { key } = await createKey({ allowed_referers: ['*.example.com'] });
    expect(await attempt(key, { referer: 'https://app.example.com/' })).toEqual(OK);
    expect(await attempt(key, { referer: 'https://a.b.example.com/x' })).toEqual(OK);
    expect(await attempt(key, { referer: 'https://example.com/' })).toEqual(refused('referer_not_allowed'));
    expect(await attempt(key, { referer: 'https://evilexample.com/' })).toEqual(refused('referer_not_allowed'));
    expect(await attempt(key, { referer: 'https://app.example.com.evil.test/' })).toEqual(refused('referer_not_allowed'));
  });

  it('a pattern with a port admits that port only', async () => {
    const { key } = await createKey({ allowed_referers: ['localhost:3000'] });
    expect(await attempt(key, { referer: 'http://localhost:3000/app' })).toEqual(OK);
    expect(await attempt(key, { referer: 'http://localhost:3001/app' })).toEqual(refused('referer_not_allowed'));
    expect(await attempt(key, { referer: 'http://localhost/app' })).toEqual(refused('referer_not_allowed'));
  });

  it('refuses a request without a referer when a list is set, and accepts Origin instead', async () => {
    const { key } = await createKey({ allowed_referers: ['example.com'] });
    expect(await attempt(key)).toEqual(refused('referer_not_allowed'));
    expect(await attempt(key, { origin: 'https://example.com' })).toEqual(OK);
    expect(await attempt(key, { referer: 'not a url' })).toEqual(refused('referer_not_allowed'));
    expect(await attempt(key, { referer: 'ftp://example.com/' })).toEqual(refused('referer_not_allowed'));
  });

  it('* admits any http(s) referer but still requires one', async () => {
    const { key } = await createKey({ allowed_referers: ['*'] });
    expect(await attempt(key, { referer: 'https://anything.test/' })).toEqual(OK);
    expect(await attempt(key)).toEqual(refused('referer_not_allowed'));
  });

  it('refuses to create a key with a referer pattern that is not a host pattern', async () => {
    for (const bad of ['https://example.com', 'example.com/path', '*example.com', 'ex ample.com', '*.*.example.com']) {
      const res = await admin('/keys', { method: 'POST', json: { allowed_referers: [bad] } });
      expect(res.status, bad).toBe(400);
    }
  });
});

describe('scopes', () => {
  it('GET, HEAD and OPTIONS need read; other methods need write', async () => {
    const reader = await createKey({ scopes: ['read'] });
    const writer = await createKey({ scopes: ['write'] });
    for (const method of ['GET', 'OPTIONS']) {
      expect(await attempt(reader.key, {}, { method }), method).toEqual(OK);
      expect(await attempt(writer.key, {}, { method }), method).toEqual(refused('insufficient_scope'));
    }
    expect(await attempt(reader.key, {}, { method: 'HEAD' })).toEqual(OK);
    expect(await attempt(writer.key, {}, { method: 'HEAD' })).toEqual({ status: 403, code: null });
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(await attempt(reader.key, {}, { method, body: '{}' }), method).toEqual(refused('insufficient_scope'));
      expect(await attempt(writer.key, {}, { method, body: '{}' }), method).toEqual(OK);
    }
  });

  it('admin implies read and write', async () => {
    const { key } = await createKey({ scopes: ['admin'] });
    expect(await attempt(key)).toEqual(OK);
    expect(await attempt(key, {}, { method: 'POST', body: '{}' })).toEqual(OK);
    expect(await attempt(key, {}, { method: 'DELETE' })).toEqual(OK);
  });

  it('a key with no scopes can do nothing', async () => {
    const { key } = await createKey({ scopes: [] });
    expect(await attempt(key)).toEqual(refused('insufficient_scope'));
    expect(await attempt(key, {}, { method: 'POST', body: '{}' })).toEqual(refused('insufficient_scope'));
  });

  it("a route's configured scopes replace read/write (/custom requires reports)", async () => {
    const readWrite = await createKey({ scopes: ['read', 'write'] });
    const admins = await createKey({ scopes: ['admin'] });
    const reports = await createKey({ scopes: ['reports'] });
    for (const method of ['GET', 'POST']) {
      const init = { method, path: '/custom/r', body: method === 'POST' ? '{}' : undefined };
      expect(await attempt(readWrite.key, {}, init), method).toEqual(refused('insufficient_scope'));
      expect(await attempt(admins.key, {}, init), method).toEqual(refused('insufficient_scope'));
      expect(await attempt(reports.key, {}, init), method).toEqual(OK);
    }
    // ...and a reports-only key is not a general read key.
    expect(await attempt(reports.key)).toEqual(refused('insufficient_scope'));
  });

  it('names the missing scopes in the refusal', async () => {
    const { key } = await createKey({ scopes: ['read'] });
    const res = await call('/custom/r', { headers: bearer(key) });
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe('insufficient_scope');
    expect(body.error.message).toContain('reports');
  });

  // BUG (src/admin/verify-routes.ts): the verify API ignores ip_not_allowed/referer_not_allowed
  // (it cannot see the caller's network) and then answers valid: true, but checkAccess stops at
  // the first failure, so for a key with an IP or referer allowlist the scope check never ran.
  // Left failing on purpose; see the report.
  it('the verify API refuses a missing scope even for a key with an IP or referer allowlist', async () => {
    for (const fields of [{}, { allowed_ips: ['10.0.0.0/8'] }, { allowed_referers: ['example.com'] }]) {
      const { key } = await createKey({ ...fields, scopes: ['read'] });
      const res = await admin('/verify', { method: 'POST', json: { key, scopes: ['admin'] } });
      expect(res.status).toBe(200);
      expect(await res.json(), JSON.stringify(fields)).toMatchObject({ valid: false, code: 'insufficient_scope' });
      const granted = await admin('/verify', { method: 'POST', json: { key, scopes: ['read'] } });
      expect(await granted.json(), JSON.stringify(fields)).toMatchObject({ valid: true, code: 'valid' });
    }
  });

  it('required and granted scopes follow the rules (unit)', () => {
    expect(requiredScopes('get', undefined)).toEqual(['read']);
    expect(requiredScopes('PATCH', undefined)).toEqual(['write']);
    expect(requiredScopes('GET', ['reports'])).toEqual(['reports']);
    expect(hasScopes(['admin'], ['read', 'write'])).toBe(true);
    expect(hasScopes(['admin'], ['reports'])).toBe(false);
    expect(hasScopes(['read'], ['read', 'write'])).toBe(false);
    expect(hasScopes([], [])).toBe(true);
  });
});

// ---- unit properties of the address and referer matchers --------------------------------

/** The reference: IPv4 as a 32-bit number and a plain prefix comparison. */
function refV4(bytes: readonly number[]): number {
  return (((bytes[0]! << 24) >>> 0) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]!) >>> 0;
}
function refContainsV4(net: readonly number[], bits: number, addr: readonly number[]): boolean {
  if (bits === 0) return true;
  const shift = 32 - bits;
  return Math.floor(refV4(net) / 2 ** shift) === Math.floor(refV4(addr) / 2 ** shift);
}
/** IPv6 as 8 groups: the first `bits` bits must agree. */
function refContainsV6(net: readonly number[], bits: number, addr: readonly number[]): boolean {
  for (let i = 0; i < 8; i++) {
    const take = Math.max(0, Math.min(16, bits - i * 16));
    if (take === 0) return true;
    const shift = 16 - take;
    if (net[i]! >> shift !== addr[i]! >> shift) return false;
  }
  return true;
}
const v4Text = (b: readonly number[]) => b.join('.');
const v6Full = (g: readonly number[]) => g.map((x) => x.toString(16)).join(':');
/** Compresses the longest run of zero groups to '::' (RFC 5952 style). */
function v6Short(g: readonly number[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return v6Full(g);
  const head = g.slice(0, best.at).map((x) => x.toString(16)).join(':');
  const tail = g.slice(best.at + best.len).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}
const isMapped = (g: readonly number[]) => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;

const byte = fc.integer({ min: 0, max: 255 });
const v4Bytes = fc.tuple(byte, byte, byte, byte);
const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
const v6Groups = fc.array(group, { minLength: 8, maxLength: 8 });

describe('CIDR matching (unit)', () => {
  it('an IPv4 address is always inside its own /32 and inside /0', () => {
    fc.assert(
      fc.property(fc.ipV4(), (addr) => {
        const ip = parseIp(addr);
        expect(ip?.version).toBe(4);
        expect(cidrContains(parseCidr(`${addr}/32`)!, ip!)).toBe(true);
        expect(cidrContains(parseCidr(addr)!, ip!)).toBe(true);
        expect(cidrContains(parseCidr('0.0.0.0/0')!, ip!)).toBe(true);
        expect(cidrContains(parseCidr('::/0')!, ip!)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('an IPv6 address is always inside its own /128 and inside ::/0, in any notation', () => {
    fc.assert(
      fc.property(fc.ipV6(), (addr) => {
        const ip = parseIp(addr);
        expect(ip, addr).not.toBeNull();
        expect(cidrContains(parseCidr(`${addr}/128`)!, ip!), addr).toBe(true);
        expect(cidrContains(parseCidr('::/0')!, ip!), addr).toBe(true);
        expect(parseIp(`[${addr}]`), addr).toEqual(ip);
        expect(parseIp(addr.toUpperCase()), addr).toEqual(ip);
      }),
      { numRuns: 1000 },
    );
  });

  it('random IPv4 addresses against random IPv4 CIDRs agree with a reference implementation', () => {
    fc.assert(
      fc.property(v4Bytes, fc.integer({ min: 0, max: 32 }), v4Bytes, (net, bits, addr) => {
        const cidr = parseCidr(`${v4Text(net)}/${bits}`);
        const ip = parseIp(v4Text(addr));
        expect(cidr).not.toBeNull();
        expect(cidrContains(cidr!, ip!)).toBe(refContainsV4(net, bits, addr));
        // The network's own address is always inside.
        expect(cidrContains(cidr!, parseIp(v4Text(net))!)).toBe(true);
        // As an IPv4-mapped IPv6 client the answer is the same.
        expect(cidrContains(cidr!, parseIp(`::ffff:${v4Text(addr)}`)!)).toBe(refContainsV4(net, bits, addr));
      }),
      { numRuns: 3000 },
    );
  });

  it('addresses that share the first bits of the network are inside (near misses included)', () => {
    // Random pairs almost never share a long prefix: build the address from the network instead.
    fc.assert(
      fc.property(v4Bytes, fc.integer({ min: 1, max: 32 }), fc.integer({ min: 0, max: 31 }), (net, bits, flip) => {
        const n = refV4(net);
        const flipped = (n ^ (1 << flip)) >>> 0;
        const addr = [flipped >>> 24, (flipped >>> 16) & 255, (flipped >>> 8) & 255, flipped & 255];
        const inside = cidrContains(parseCidr(`${v4Text(net)}/${bits}`)!, parseIp(v4Text(addr))!);
        expect(inside).toBe(refContainsV4(net, bits, addr));
        expect(inside).toBe(flip < 32 - bits);
      }),
      { numRuns: 3000 },
    );
  });

  it('random IPv6 addresses against random IPv6 CIDRs agree with a reference implementation', () => {
    fc.assert(
      fc.property(v6Groups, fc.integer({ min: 0, max: 128 }), v6Groups, fc.nat({ max: 127 }), fc.boolean(), (net, bits, other, flip, near) => {
        // Either an unrelated address or the network with one bit flipped (a near miss or hit).
        const addr = near ? net.map((g, i) => (i === flip >> 4 ? g ^ (1 << (15 - (flip & 15))) : g)) : other;
        fc.pre(!isMapped(net) && !isMapped(addr));
        const cidr = parseCidr(`${v6Short(net)}/${bits}`);
        expect(cidr).not.toBeNull();
        for (const text of [v6Full(addr), v6Short(addr)]) {
          expect(cidrContains(cidr!, parseIp(text)!), `${text} in ${v6Short(net)}/${bits}`).toBe(refContainsV6(net, bits, addr));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary text and rejects what is not an address or CIDR', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const ip = parseIp(s);
        const cidr = parseCidr(s);
        if (ip) expect(ip.version === 4 ? ip.value < 2n ** 32n : ip.value < 2n ** 128n).toBe(true);
        if (cidr) expect(cidr.bits).toBeLessThanOrEqual(cidr.version === 4 ? 32 : 128);
      }),
      { numRuns: 3000 },
    );
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1::2::3', '12345::', ':::', '1.2.3.4/', '1.2.3.4/-1', '::/1x']) {
      expect(parseCidr(bad), bad).toBeNull();
    }
  });
});

describe('referer matching (unit)', () => {
  // No `xn--` labels (IDNA would rewrite them) and an alphabetic last label, so the URL
  // parser never reads the host as an IPv4 number.
  const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/).filter((l) => !l.startsWith('xn--'));
  const tld = fc.stringMatching(/^[a-z]{2,6}$/);
  const host = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), tld).map(([l, t]) => [...l, t].join('.'));

  it('an exact host pattern admits that host and no other', () => {
    fc.assert(
      fc.property(host, host, fc.constantFrom('http', 'https'), (allowed, other, scheme) => {
        expect(isValidRefererPattern(allowed)).toBe(true);
        expect(refererAllowed([allowed], `${scheme}://${allowed}/some/path`)).toBe(true);
        expect(refererAllowed([allowed], `${scheme}://${other}/`)).toBe(other === allowed);
        expect(refererAllowed([allowed], `${scheme}://x${allowed}/`)).toBe(false);
        expect(refererAllowed([allowed], `${scheme}://${allowed}.evil.test/`)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('a wildcard pattern admits every subdomain and never the apex or a look-alike', () => {
    fc.assert(
      fc.property(host, fc.array(label, { minLength: 1, maxLength: 3 }), (apex, sub) => {
        const pattern = `*.${apex}`;
        expect(isValidRefererPattern(pattern)).toBe(true);
        expect(refererAllowed([pattern], `https://${sub.join('.')}.${apex}/`)).toBe(true);
        expect(refererAllowed([pattern], `https://${apex}/`)).toBe(false);
        expect(refererAllowed([pattern], `https://${sub.join('')}${apex}/`)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on arbitrary referer values and refuses them unless they are http(s) URLs', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (referer) => {
        const ok = refererAllowed(['*'], referer);
        if (ok) expect(/^https?:/i.test(referer.trim())).toBe(true);
        expect(refererAllowed(['example.com'], referer)).toBe(ok && new URL(referer).hostname === 'example.com');
      }),
      { numRuns: 3000 },
    );
  });
});
