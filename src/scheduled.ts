// The cron trigger: marks expired keys (including ended rotation grace periods) in the limit
// store, removes their KV snapshots, records it in the audit log, and drops idempotency
// records older than a day. Bounded work per run; the next run picks up the rest.

import { loadConfig } from './config/load';
import type { Env } from './env';
import { auditStatement } from './keys/audit';
import { runEventMaintenance } from './events/maintenance';
import { servicesFor } from './services';

const BATCH = 200;
const IDEMPOTENCY_TTL_MS = 86_400_000;

export interface CleanupReport {
  expired: number;
  idempotencyRemoved: number;
  logsRemoved: number;
  rollupsRemoved: number;
  webhooksQueued: number;
}

export async function runCleanup(env: Env, now = Date.now()): Promise<CleanupReport> {
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(`config_invalid: ${loaded.message}`);
  const services = servicesFor(env, loaded.config);
  const repo = services.keys.repo;
  const due = await repo.pendingExpired(now, BATCH);
  for (const key of due) {
    // The store marker makes every isolate refuse the key at once, whatever its caches hold.
    await services.onUsabilityChanged(key, 'key_expired');
    await services.keys.removeSnapshot(key.digest);
    await env.DB.batch([
      repo.markExpiryHandled(key.id, key.expires_at as number),
      auditStatement(env.DB, { at: now, actor: 'scheduler', action: 'expire', key_id: key.id, changes: key.rotated_to ? ['rotation_grace_ended'] : [] }),
    ]);
  }
  const removed = await env.DB.prepare('DELETE FROM idempotency WHERE created_at < ?').bind(now - IDEMPOTENCY_TTL_MS).run();
  const events = await runEventMaintenance(env, loaded.config, now);
  const report = { expired: due.length, idempotencyRemoved: removed.meta.changes, ...events };
  console.log(JSON.stringify({ level: 'info', event: 'cleanup', ...report }));
  return report;
}
