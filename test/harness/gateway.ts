// The one place tests touch the Workers test tooling: build an env, call the gateway,
// create keys through the admin API, count storage calls. Keep tests on these helpers.

import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import worker from '../../src/index';
import type { Env } from '../../src/env';

export const ADMIN_TOKEN = 'test-admin-token';
export const BASE = 'https://gw.test';

export function upstreamOrigin(): string {
  return `http://127.0.0.1:${inject('upstreamPort')}`;
}

export type RouteInput = Record<string, unknown> & { path: string };

export function defaultRoutes(): RouteInput[] {
  return [
    { path: '/demo', upstream: upstreamOrigin() },
    { path: '/keep', upstream: `${upstreamOrigin()}/base`, strip_prefix: false },
    { path: '/custom', upstream: upstreamOrigin(), key_headers: ['x-custom-key'], key_query_param: 'api_key', methods: ['GET', 'POST'], scopes: ['reports'] },
    { path: '/secret-upstream', upstream: upstreamOrigin(), upstream_auth: { header: 'authorization', secret: 'UPSTREAM_TOKEN', prefix: 'Bearer ' } },
    { path: '/fast', upstream: upstreamOrigin(), timeout_ms: 200 },
    { path: '/nowhere', upstream: 'http://127.0.0.1:9' },
  ];
}

let sharedRoutes: RouteInput[] | undefined;

/** The env a test runs against: real local KV, D1 and Durable Objects, routes to the real upstream. */
export function testEnv(overrides: Partial<Env> = {}): Env {
  sharedRoutes ??= defaultRoutes();
  return { ...(env as unknown as Env), ROUTES: sharedRoutes, UPSTREAM_TOKEN: 'upstream-secret', ...overrides };
}

export interface CallOptions {
  env?: Env;
  /** Wait for ctx.waitUntil work (post-response accounting) before returning. Default true. */
  settle?: boolean;
}

/**
 * Calls the gateway, reads the whole response, then (by default) waits for its post-response
 * work such as token settlement, which itself waits for the body to be read. For streaming
 * assertions use callDeferred.
 */
export async function call(path: string, init: RequestInit = {}, opts: CallOptions = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(BASE + path, init), opts.env ?? testEnv(), ctx);
  const body = res.body ? await res.arrayBuffer() : null;
  if (opts.settle !== false) await waitOnExecutionContext(ctx);
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** Calls the gateway and also returns a promise for its post-response work. */
export async function callDeferred(path: string, init: RequestInit = {}, e: Env = testEnv()): Promise<{ res: Response; settled: Promise<void> }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(BASE + path, init), e, ctx);
  return { res, settled: waitOnExecutionContext(ctx) };
}

export function admin(path: string, init: RequestInit & { json?: unknown } = {}, opts: CallOptions & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${opts.token ?? ADMIN_TOKEN}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  return call(`/admin${path}`, { ...init, headers, body }, opts);
}

export interface CreatedKey {
  id: string;
  key: string;
  [field: string]: unknown;
}

export async function createKey(body: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<CreatedKey> {
  const res = await admin('/keys', { method: 'POST', json: body }, opts);
  if (res.status !== 201) throw new Error(`createKey failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as CreatedKey;
}

/** A request the test webhook receiver (test/harness/webhook-receiver.mjs) recorded. */
export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
}

/** A fresh path on the recording webhook receiver: its URL and what has arrived there. */
export function webhookReceiver(): { url: string; received: () => Promise<ReceivedWebhook[]> } {
  const origin = `http://127.0.0.1:${inject('webhookReceiverPort')}`;
  const path = `/in/${crypto.randomUUID()}`;
  return {
    url: origin + path,
    received: async () => ((await (await fetch(`${origin}/received?path=${encodeURIComponent(path)}`)).json()) as { received: ReceivedWebhook[] }).received,
  };
}

export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${key}`, ...extra };
}

/** What the demo upstream saw. */
export interface Echo {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
}

export interface ErrorJson {
  error: { code: string; message: string; request_id: string; details?: { path: string; message: string }[] };
}

export interface StorageCounts {
  kv: number;
  d1: number;
}

/** Wraps KV and D1 so a test can count every call the gateway makes on them. */
export function countingEnv(base: Env = testEnv()): { env: Env; counts: StorageCounts } {
  const counts: StorageCounts = { kv: 0, d1: 0 };
  const wrap = <T extends object>(target: T, field: keyof StorageCounts): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          counts[field]++;
          return (value as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  return { env: { ...base, KEYS: wrap(base.KEYS, 'kv'), DB: wrap(base.DB, 'd1') }, counts };
}
