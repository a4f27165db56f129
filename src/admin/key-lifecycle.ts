// Builds the key lifecycle (src/keys/lifecycle.ts) for an admin request and maps admin API bodies to domain inputs.

import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { KeyLifecycle, type CreateKeyInput, type ServiceResult, type UpdateKeyInput } from '../keys/lifecycle';
import type { KeyPolicy } from '../keys/record';
import { drainOutbox, type SyncDeps } from '../keys/sync';
import { writeRevocationMarker } from '../limits/revocation';
import type { CreateKeyBody, UpdateKeyBody } from './schemas';

export function keyLifecycle(c: Context<AppEnv>): KeyLifecycle {
  const config = c.get('config');
  const services = c.get('services');
  return new KeyLifecycle({
    db: c.env.DB,
    store: services.keys,
    maxKeysPerOwner: config.MAX_KEYS_PER_OWNER,
    writeMarker: (key, reason) => writeRevocationMarker(services, key, reason),
  });
}

/** Retries admin changes whose snapshot or marker is still pending (see keys/sync.ts). */
export function drainPending(c: Context<AppEnv>): Promise<unknown> {
  const services = c.get('services');
  const deps: SyncDeps = {
    db: c.env.DB,
    store: services.keys,
    writeMarker: (key, reason) => writeRevocationMarker(services, key, reason),
    now: () => Date.now(),
  };
  return drainOutbox(deps).catch((error: unknown) => {
    console.warn(JSON.stringify({ level: 'warn', event: 'outbox_drain_failed', error: error instanceof Error ? error.message.slice(0, 200) : undefined }));
  });
}

/** Maps a domain failure to the one error shape; returns the value otherwise. */
export function unwrap<T>(result: ServiceResult<T>): T {
  if (result.ok) return result.value;
  throw new GatewayError(result.code, result.message);
}

const ms = (iso: string | null | undefined): number | null | undefined => (iso === undefined ? undefined : iso === null ? null : Date.parse(iso));

export function createInput(body: CreateKeyBody, c: Context<AppEnv>, now = Date.now()): CreateKeyInput {
  const config = c.get('config');
  const prefix = body.prefix ?? config.KEY_PREFIX;
  if (!config.prefixes.has(prefix)) {
    throw new GatewayError('validation_failed', undefined, {
      details: [{ path: 'prefix', message: `must be one of: ${[...config.prefixes].join(', ')}` }],
    });
  }
  const expires_at = body.ttl_seconds !== undefined ? now + body.ttl_seconds * 1000 : (ms(body.expires_at) ?? null);
  if (expires_at !== null && expires_at <= now) {
    throw new GatewayError('validation_failed', undefined, { details: [{ path: 'expires_at', message: 'must be in the future' }] });
  }
  const policy: KeyPolicy = {};
  if (body.limits) policy.limits = body.limits;
  if (body.model_limits) policy.model_limits = body.model_limits;
  if (body.budget) policy.budget = body.budget;
  if (body.models?.length) policy.models = [...new Set(body.models)];
  if (body.credits) policy.credits = body.credits;
  if (body.max_concurrent) policy.max_concurrent = body.max_concurrent;
  return {
    name: body.name,
    description: body.description,
    owner: body.owner ?? null,
    type: body.type,
    scopes: [...new Set(body.scopes)],
    tags: [...new Set(body.tags)],
    metadata: body.metadata,
    allowed_ips: body.allowed_ips,
    allowed_referers: body.allowed_referers,
    policy,
    expires_at,
    prefix,
    replace_existing: body.replace_existing,
  };
}

export function updateInput(body: UpdateKeyBody): UpdateKeyInput {
  const out: UpdateKeyInput = {};
  if (body.name !== undefined) out.name = body.name;
  if (body.description !== undefined) out.description = body.description;
  if (body.owner !== undefined) out.owner = body.owner;
  if (body.type !== undefined) out.type = body.type;
  if (body.scopes !== undefined) out.scopes = [...new Set(body.scopes)];
  if (body.tags !== undefined) out.tags = [...new Set(body.tags)];
  if (body.metadata !== undefined) out.metadata = body.metadata;
  if (body.allowed_ips !== undefined) out.allowed_ips = body.allowed_ips;
  if (body.allowed_referers !== undefined) out.allowed_referers = body.allowed_referers;
  if (body.expires_at !== undefined) out.expires_at = ms(body.expires_at) ?? null;
  // Merged into the key's policy inside the mutation, against the record it writes over.
  if (body.limits !== undefined || body.model_limits !== undefined || body.budget !== undefined || body.models !== undefined || body.credits !== undefined || body.max_concurrent !== undefined) {
    // An empty allowlist is no allowlist: stored as absent.
    const models = body.models === undefined ? undefined : body.models === null || body.models.length === 0 ? null : [...new Set(body.models)];
    out.policy = { limits: body.limits, model_limits: body.model_limits, budget: body.budget, models, credits: body.credits, max_concurrent: body.max_concurrent };
  }
  return out;
}
