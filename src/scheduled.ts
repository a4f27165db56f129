// The cron trigger: marks expired keys (including ended rotation grace periods) in the limit
// store and their KV snapshots, records it in the audit log, retries admin changes whose
// snapshot or marker is still pending (the outbox), and drops idempotency records older than
// a day. Bounded work per run; the next run picks up the rest.

import { loadConfig } from './config/load';
import type { Env } from './env';
import { auditStatement } from './keys/audit';
import { IdempotencyRepository } from './keys/idempotency-repository';
import { OutboxRepository, outboxRowOf } from './keys/outbox-repository';
import { complete, drainOutbox, targetOf, type SyncDeps } from './keys/sync';
import { writeRevocationMarker } from './limits/revocation';
import { writeToken } from './lib/ids';
import { runEventMaintenance } from './events/maintenance';
import { servicesFor } from './services';

const BATCH = 200;
const IDEMPOTENCY_TTL_MS = 86_400_000;

export interface CleanupReport {
  expired: number;
  /** Expiries whose marker could not be written this run (left in the outbox). */
  pending: number;
  /** Earlier admin changes whose snapshot and marker this run wrote. */
  outboxWritten: number;
  idempotencyRemoved: number;
  logsRemoved: number;
  rollupsRemoved: number;
  webhookDeliveriesRemoved: number;
  webhooksQueued: number;
  webhookSecretsSealed: number;
}

export async function runCleanup(env: Env, now = Date.now()): Promise<CleanupReport> {
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(`config_invalid: ${loaded.message}`);
  const services = servicesFor(env, loaded.config);
  const repo = services.keys.repo;
  const outbox = new OutboxRepository(env.DB);
  const sync: SyncDeps = {
    db: env.DB,
    store: services.keys,
    writeMarker: (key, reason) => writeRevocationMarker(services, key, reason),
    now: () => now,
  };
  // Older pending changes first, so an outage's backlog drains before new work queues up.
  const drained = await drainOutbox(sync, BATCH);
  const due = await repo.pendingExpired(now, BATCH);
  let pending = 0;
  for (const key of due) {
    const token = writeToken();
    // Marked handled and enqueued in one batch: if the marker write below fails, the
    // outbox (not this query) retries it.
    await env.DB.batch([
      repo.markExpiryHandled(key.id, key.expires_at as number),
      auditStatement(env.DB, { at: now, actor: 'scheduler', action: 'expire', key_id: key.id, changes: key.rotated_to ? ['rotation_grace_ended'] : [] }),
      outbox.enqueueStatement(outboxRowOf(key, token, now)),
    ]);
    // The store marker makes every isolate refuse the key at once, whatever its caches hold;
    // the KV snapshot is rewritten as expired (KV drops it an hour after the expiry).
    if ((await complete(sync, targetOf(key), token, true, 'scheduler')) === 'pending') pending++;
  }
  const idempotencyRemoved = await new IdempotencyRepository(env.DB).removeOlderThan(now - IDEMPOTENCY_TTL_MS);
  const events = await runEventMaintenance(env, loaded.config, now);
  const report = { expired: due.length, pending, outboxWritten: drained.written, idempotencyRemoved, ...events };
  console.log(JSON.stringify({ level: 'info', event: 'cleanup', ...report }));
  return report;
}
