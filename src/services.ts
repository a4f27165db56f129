// Outside dependencies, built once per env object (i.e. once per isolate in production),
// never per request.

import type { LoadedConfig } from './config/load';
import type { Env } from './env';
import { KeyStore } from './keys/key-store';
import { fetchUpstream, type Upstream } from './proxy/upstream';

export interface Services {
  keys: KeyStore;
  upstream: Upstream;
  /** Runs after a key stops being usable (the limit store's instant-revocation marker). */
  onKeyDisabled?: (record: import('./keys/record').KeyRecord) => Promise<void>;
}

const built = new WeakMap<object, Services>();

export function servicesFor(env: Env, config: LoadedConfig): Services {
  let services = built.get(env);
  if (!services) {
    services = {
      keys: new KeyStore(env.KEYS, env.DB, config.KEY_CACHE_TTL_MS),
      upstream: fetchUpstream,
    };
    built.set(env, services);
  }
  return services;
}
