// Worker bindings, vars and secrets. Vars are validated by config/schema.ts; this type only
// names what the runtime hands us.

import type { LimiterObject } from './limits/durable-object';

export interface Env {
  KEYS: KVNamespace;
  DB: D1Database;
  LIMITER: DurableObjectNamespace<LimiterObject>;
  ADMIN_TOKEN?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  KEY_PREFIX?: string;
  KEY_PREFIXES?: unknown;
  ROUTES?: unknown;
  PRICES?: unknown;
  DEFAULT_PRICE?: unknown;
  KEY_CACHE_TTL_MS?: string;
  STORE_TIMEOUT_MS?: string;
  STORE_BATCH_MAX?: string;
  MAX_KEYS_PER_OWNER?: string;
  /** Seals signing secrets (src/lib/secret-box.ts); the previous one still opens. */
  SECRETS_MASTER_KEY?: string;
  SECRETS_MASTER_KEY_PREVIOUS?: string;
  /** Private JWK (Ed25519 or P-256) signing x-gateway-identity; the previous key's public part stays in the JWKS. */
  IDENTITY_SIGNING_KEY?: string;
  IDENTITY_SIGNING_KEY_PREVIOUS?: string;
  IDENTITY_ISSUER?: string;
  /** Admin sign-in through an identity provider (src/admin/idp-auth.ts). */
  ADMIN_JWT_ISSUER?: string;
  ADMIN_JWT_AUDIENCE?: string;
  ADMIN_JWKS_URL?: string;
  ADMIN_JWT_ROLES_CLAIM?: string;
  /** Request events and webhook deliveries (src/events, src/webhooks); unset turns both off. */
  EVENTS?: Queue<import('./events/messages').QueueMessage>;
  /** Upstream credentials named by routes' upstream_auth.secret. */
  [secret: string]: unknown;
}

declare global {
  namespace Cloudflare {
    interface Env {
      KEYS: KVNamespace;
      DB: D1Database;
      LIMITER: DurableObjectNamespace<LimiterObject>;
      ADMIN_TOKEN?: string;
      TEST_MIGRATIONS: import('@cloudflare/vitest-plugin').D1Migration[];
    }
  }
}
