// Origin matching under a hostile page's choice of Origin: only an origin the route lists,
// exactly (browsers send scheme and host lower-case), is ever allowed; look-alikes are not.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouteSchema } from '../../src/config/schema';
import { answerPreflight, applyCors, corsPolicy } from '../../src/proxy/cors';

const route = RouteSchema.parse({ path: '/web', upstream: 'https://up.test', cors: { origins: ['https://app.example.com', 'http://localhost:5173'], credentials: true } });
const policy = corsPolicy(route, route.cors!);
const LISTED = ['https://app.example.com', 'http://localhost:5173'];

const lookAlike = fc.tuple(fc.constantFrom(...LISTED), fc.constantFrom('.evil.com', '/', ':443', ':80', '%2e', '.', '\u0000', ' ', 'x', '@evil.com', '#', '?')).map(([o, t]) => o + t);
const prefixed = fc.tuple(fc.constantFrom('evil', 'evil.', 'x-', 'https://', 'http://'), fc.constantFrom('app.example.com', 'localhost:5173')).map(([p, h]) => (p.includes('://') ? p : `https://${p}`) + h);
const schemeSwap = fc.constantFrom('http://app.example.com', 'https://localhost:5173', 'wss://app.example.com', 'null', '', '*', 'https://app.example.com.', 'https://app.example.co', 'https://pp.example.com');

describe('CORS origin matching (src/proxy/cors.ts)', () => {
  it('a look-alike of a listed origin (suffix, prefix, scheme, port, trailing characters, null) is never allowed, with credentials on', () => {
    fc.assert(
      fc.property(fc.oneof(lookAlike, prefixed, schemeSwap).filter((o) => !LISTED.includes(o.toLowerCase())), (origin) => {
        expect(answerPreflight(policy, origin, 'GET').ok).toBe(false);
        const h = new Headers();
        applyCors(h, policy, origin);
        expect(h.get('access-control-allow-origin')).toBeNull();
        expect(h.get('access-control-allow-credentials')).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it('a listed origin gets itself back, never `*`, and the answer varies by Origin', () => {
    for (const origin of LISTED) {
      const answer = answerPreflight(policy, origin, 'post');
      expect(answer.ok && answer.headers['access-control-allow-origin']).toBe(origin);
      const h = new Headers({ vary: 'Accept-Encoding' });
      applyCors(h, policy, origin);
      expect(h.get('access-control-allow-origin')).toBe(origin);
      expect(h.get('vary')).toBe('Accept-Encoding, Origin');
    }
  });
});
