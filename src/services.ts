// Outside dependencies, built once per env object (i.e. once per isolate in production),
// never per request: the key store, the limit store (Upstash when configured, else the
// Durable Object) behind its guard, and the upstream.

import type { LoadedConfig } from './config/load';
import type { Env } from './env';
import { KeyStore } from './keys/key-store';
import { OwnerStore } from './owners/owner-store';
import { DurableObjectLimitStore } from './limits/durable-object-store';
import { LruCache } from './lib/lru';
import { StoreGuard } from './limits/guard';
import type { LimitStore } from './limits/store';
import { UpstashLimitStore } from './limits/upstash-store';
import { storeTimeouts, type StoreTimeouts } from './limits/timeouts';
import { fetchUpstream, type Upstream } from './proxy/upstream';

export interface Services {
  keys: KeyStore;
  /** Owner policies (isolate cache, then KV). */
  owners: OwnerStore;
  limits: LimitStore;
  guard: StoreGuard;
  upstream: Upstream;
  /** Store timeouts by purpose, derived once from STORE_TIMEOUT_MS. */
  timeouts: StoreTimeouts;
}

const built = new WeakMap<object, Services>();

/**
 * The limit store this env configures. `batching` sets group commit from the config: a call
 * counts as in flight, and an admission may wait to be sent, for the admission timeout.
 */
export function limitStoreFor(env: Env, config?: Pick<LoadedConfig, 'STORE_BATCH_MAX' | 'STORE_TIMEOUT_MS'>): LimitStore {
  const batching = config ? { maxBatch: config.STORE_BATCH_MAX, callTtlMs: config.STORE_TIMEOUT_MS } : {};
  if (env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN) {
    return new UpstashLimitStore({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, batching });
  }
  return new DurableObjectLimitStore(env.LIMITER, batching);
}

// Guards are per store and isolate-wide, so the breaker sees every request's failures:
// Upstash by URL, the Durable Object store by its namespace binding. Services are built once
// per env object, so a guard is looked up rarely; the TTL only drops guards of URLs a
// configuration no longer names (a dropped guard's breaker state is a cache, never the truth).
const guards = new LruCache<string, StoreGuard>(16, 3_600_000);
const objectGuards = new WeakMap<object, StoreGuard>();

function guardFor(env: Env, limits: LimitStore): StoreGuard {
  if (limits.kind === 'durable_object') {
    let guard = objectGuards.get(env.LIMITER);
    if (!guard) objectGuards.set(env.LIMITER, (guard = new StoreGuard(limits.kind)));
    return guard;
  }
  const guardKey = `${limits.kind}:${env.UPSTASH_REDIS_REST_URL ?? ''}`;
  let guard = guards.get(guardKey);
  if (!guard) {
    guard = new StoreGuard(limits.kind);
    guards.set(guardKey, guard);
  }
  return guard;
}

export function servicesFor(env: Env, config: LoadedConfig): Services {
  let services = built.get(env);
  if (!services) {
    const limits = limitStoreFor(env, config);
    const guard = guardFor(env, limits);
    services = {
      keys: new KeyStore(env.KEYS, env.DB, config.KEY_CACHE_TTL_MS),
      owners: new OwnerStore(env.KEYS, env.DB, config.KEY_CACHE_TTL_MS),
      limits,
      guard,
      upstream: fetchUpstream,
      timeouts: storeTimeouts(config.STORE_TIMEOUT_MS),
    };
    built.set(env, services);
  }
  return services;
}
