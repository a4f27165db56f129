// The two limit stores a gateway test runs against, and a gateway bound to one of them:
//   durable_object - the default env (no Upstash vars): one LimiterObject per key
//   upstash        - the Upstash store over the local REST bridge and a real redis-server
// Every gateway-*.test.ts scenario runs once per store with describe.each(STORE_KINDS).

import { inject } from 'vitest';
import type { Env } from '../../src/env';
import type { UsageView } from '../../src/limits/usage-view';
import { admin, call, callDeferred, createKey, testEnv, type CreatedKey, type RouteInput } from '../harness/gateway';

export type StoreKind = 'durable_object' | 'upstash';
export const STORE_KINDS: StoreKind[] = ['durable_object', 'upstash'];

export type Vars = Partial<Env> & { ROUTES: RouteInput[] };

// These tests are about limits, not a slow store. A timed-out admission fails open, which on
// a busy machine would read as over-admission, so the store gets a generous timeout here.
const STORE_TIMEOUT_MS = '5000';

/** A test env on the given store. `tag` counts this env's bridge round trips (Upstash). */
export function storeEnv(kind: StoreKind, vars: Vars, tag?: string): Env {
  const base: Partial<Env> = { STORE_TIMEOUT_MS, ...vars };
  if (kind === 'durable_object') return testEnv({ UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined, ...base });
  const url = tag === undefined ? inject('upstashUrl') : `${inject('upstashUrl')}/t/${encodeURIComponent(tag)}`;
  return testEnv({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'), ...base });
}

/** What the bridge counted for one tag (scripts/upstash-bridge.mjs). */
export interface BridgeCounters {
  httpRequests: number;
  commands: number;
  byPath: Record<string, number>;
}

export async function bridgeStats(tag: string): Promise<BridgeCounters> {
  const res = await fetch(`${inject('upstashUrl')}/__bridge/stats?tag=${encodeURIComponent(tag)}`, {
    headers: { authorization: `Bearer ${inject('upstashToken')}` },
  });
  if (res.status !== 200) throw new Error(`bridge stats: ${res.status}`);
  return (await res.json()) as BridgeCounters;
}

/** One gateway deployment (routes, prices, store) with the harness helpers bound to it. */
export interface Gateway {
  env: Env;
  call(path: string, init?: RequestInit): Promise<Response>;
  callDeferred(path: string, init?: RequestInit): Promise<{ res: Response; settled: Promise<void> }>;
  admin(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  createKey(body?: Record<string, unknown>): Promise<CreatedKey>;
  /** GET /admin/keys/{id}/usage */
  usage(keyId: string): Promise<UsageView>;
}

export function gateway(kind: StoreKind, vars: Vars, opts: { tag?: string } = {}): Gateway {
  // One env object per deployment: services (and the store client) are built once per env.
  const env = storeEnv(kind, vars, opts.tag);
  return {
    env,
    call: (path, init) => call(path, init, { env }),
    callDeferred: (path, init) => callDeferred(path, init, env),
    admin: (path, init) => admin(path, init, { env }),
    createKey: (body) => createKey(body, { env }),
    async usage(keyId) {
      const res = await admin(`/keys/${keyId}/usage`, {}, { env });
      if (res.status !== 200) throw new Error(`usage: ${res.status} ${await res.text()}`);
      return (await res.json()) as UsageView;
    },
  };
}

/**
 * A gateway whose limit store is down, with a breaker of its own (guards are per store URL or
 * per Durable Object namespace binding). Upstash: a URL on a closed port. Durable Object: a
 * namespace whose stubs fail every call as the runtime does when an object is unreachable.
 * KV and D1 stay up, so keys created through any gateway of the test file are visible.
 * workerd prints "Uncaught (in promise) ... Network connection lost" for every call to the
 * closed port although the store handles the rejection: a bare
 * `fetch('http://127.0.0.1:9/', { method: 'POST' }).catch(() => {})` prints the same.
 */
export function downGateway(kind: StoreKind, vars: Vars): Gateway {
  if (kind === 'upstash') {
    return gateway('upstash', { UPSTASH_REDIS_REST_URL: `http://127.0.0.1:9/dead/${crypto.randomUUID()}`, UPSTASH_REDIS_REST_TOKEN: 'unused', ...vars });
  }
  const real = testEnv().LIMITER;
  const unreachable = async () => {
    throw new Error('Network connection lost.');
  };
  const failing = {
    idFromName: (name: string) => real.idFromName(name),
    get: () => ({ admit: unreachable, settle: unreachable, setBlocked: unreachable, usage: unreachable }),
  } as unknown as Env['LIMITER'];
  return gateway('durable_object', { ...vars, LIMITER: failing });
}

export type Window = UsageView['windows'][number];

export function windowOf(view: UsageView, name: string): Window {
  const w = view.windows.find((x) => x.name === name);
  if (!w) throw new Error(`no ${name} window in ${JSON.stringify(view.windows.map((x) => x.name))}`);
  return w;
}

export interface ErrorBody {
  error: { code: string; message: string; request_id: string; details?: Record<string, unknown> };
}

export async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ((await res.json()) as ErrorBody).error;
}

/**
 * Minute windows are fixed: a test that counts in one must not straddle its end. Waits for
 * the next minute when fewer than `marginMs` are left in this one (never asserts on time).
 */
export async function awayFromMinuteEdge(marginMs = 3_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

// Chat bodies for the demo upstream. Its token rule (scripts/demo-upstream.mjs):
//   prompt = ceil(code points / 4) + 3 per message, completion = min(max_tokens ?? 16, 16)
// PROMPT has 25 code points, so one user message of it is 7 + 3 = 10 prompt tokens.
export const PROMPT = 'Say ok a few times please';
export const PROMPT_TOKENS = 10;
export const demoCompletion = (maxTokens?: number) => Math.min(maxTokens ?? 16, 16);

export function chatBody(fields: { model?: string; max_tokens?: number; stream?: boolean; stream_options?: unknown } = {}): string {
  return JSON.stringify({ messages: [{ role: 'user', content: PROMPT }], ...fields });
}

export function postJson(key: string, body: string): RequestInit {
  return { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body };
}

/** Complete SSE events (terminated by a blank line) in a text; a trailing partial one is dropped. */
export function sseEvents(text: string): { event: string; data: string }[] {
  const blocks = text.replace(/\r\n/g, '\n').split('\n\n');
  blocks.pop();
  return blocks
    .filter((b) => b.trim() !== '')
    .map((block) => {
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      return { event, data: data.join('\n') };
    });
}
