// What a request event may hold, whatever the client sends: never the key (in any header or
// query parameter it may arrive in), never the credential headers or the query string, and
// every client-supplied text bounded.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import type { QueueItem, RequestEvent } from '../../src/events/messages';
import { bearer, call, createKey, testEnv, upstreamOrigin } from '../harness/gateway';
import { capturingQueue } from './queue';

const headerValue = fc.string({ minLength: 0, maxLength: 3000 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x').trim());
// Segments the gateway forwards: a segment starting with `..` is refused before any event.
const pathSegment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,40}$/).filter((s) => !s.startsWith('..'));

describe('request events hold no key material', () => {
  it('for any user agent, referer, path and query, the event has no key, credential or query, and bounded texts (property)', async () => {
    const captured = capturingQueue();
    const e: Env = testEnv({
      EVENTS: captured.queue,
      ROUTES: [{ path: '/custom', upstream: upstreamOrigin(), key_headers: ['x-custom-key'], key_query_param: 'api_key' }],
    });
    const k = await createKey({}, { env: e });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('authorization', 'x-custom-key', 'query'),
        headerValue,
        headerValue,
        fc.array(pathSegment, { minLength: 0, maxLength: 5 }),
        (via, ua, refererTail, segments) => {
          return (async () => {
            captured.sent.length = 0;
            const path = `/custom/${segments.join('/')}`;
            const headers: Record<string, string> = { 'user-agent': ua, referer: `https://app.example/${k.key}?api_key=${k.key}&r=${encodeURIComponent(refererTail)}` };
            let url = `${path}?x=1`;
            if (via === 'authorization') Object.assign(headers, bearer(k.key));
            else if (via === 'x-custom-key') headers['x-custom-key'] = k.key;
            else url += `&api_key=${k.key}`;
            const res = await call(url, { headers }, { env: e });
            expect(res.status).toBe(200);
            const events = captured.sent.map((s) => s.body).filter((m: QueueItem): m is RequestEvent => m.kind === 'request');
            expect(events).toHaveLength(1);
            const event = events[0] as RequestEvent;
            const text = JSON.stringify(event);
            // The referer's path held the key too: only origin + path are kept, so cut it there.
            expect(text.replace(`https://app.example/${k.key}`, '')).not.toContain(k.key);
            expect(text).not.toContain('api_key');
            // The path as the runtime parsed it (dot segments resolved), without the query.
            expect(event.path).toBe(new URL(path, 'https://gw.test').pathname);
            expect(event.user_agent?.length ?? 0).toBeLessThanOrEqual(256);
            expect(event.referer?.length ?? 0).toBeLessThanOrEqual(256);
          })();
        },
      ),
      { numRuns: 25 },
    );
  });
});
