// The cron's share of request logs and webhooks: retention (LOG_RETENTION_DAYS for the log
// and webhook delivery history, ROLLUP_RETENTION_DAYS for the rollups), key.* webhooks for recent audit entries (key.expired
// comes from this same cron run), re-queueing deliveries whose queue job was lost, and sealing
// webhook secrets still in plaintext (or under the previous master key).
// A failure here is logged and never stops the key cleanup that ran before it.

import type { LoadedConfig } from '../config/load';
import type { Env } from '../env';
import { dispatchAudit, requeueOverdue } from '../webhooks/outbox';
import { WebhookRepository } from '../webhooks/repository';
import { pruneWebhooks } from '../webhooks/retention';
import { resealStoredSecrets } from '../webhooks/secrets';
import { pruneLogs } from './log-store';

export async function runEventMaintenance(
  env: Env,
  config: LoadedConfig,
  now: number,
): Promise<{ logsRemoved: number; rollupsRemoved: number; webhookDeliveriesRemoved: number; webhooksQueued: number; webhookSecretsSealed: number }> {
  let logsRemoved = 0;
  let rollupsRemoved = 0;
  let webhookDeliveriesRemoved = 0;
  let webhooksQueued = 0;
  let webhookSecretsSealed = 0;
  try {
    const pruned = await pruneLogs(env.DB, now, config.LOG_RETENTION_DAYS, config.ROLLUP_RETENTION_DAYS);
    logsRemoved = pruned.logs;
    rollupsRemoved = pruned.rollups;
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', event: 'log_retention_failed', message: err instanceof Error ? err.message : String(err) }));
  }
  try {
    webhookDeliveriesRemoved = (await pruneWebhooks(env.DB, now, config.LOG_RETENTION_DAYS)).deliveries;
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', event: 'webhook_retention_failed', message: err instanceof Error ? err.message : String(err) }));
  }
  try {
    webhooksQueued = (await dispatchAudit(env.DB, env.EVENTS, now)) + (await requeueOverdue(env.DB, env.EVENTS, now));
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', event: 'webhook_sweep_failed', message: err instanceof Error ? err.message : String(err) }));
  }
  try {
    const sweep = await resealStoredSecrets(new WebhookRepository(env.DB), env);
    if (sweep.ok) webhookSecretsSealed = sweep.resealed;
    else if (sweep.plaintext > 0) {
      // Legacy secrets keep delivering from their plaintext; say so until a master is set.
      console.warn(JSON.stringify({ level: 'warn', event: 'webhook_secrets_not_sealed', endpoints: sweep.plaintext, message: sweep.reason }));
    }
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', event: 'webhook_secret_seal_failed', message: err instanceof Error ? err.message : String(err) }));
  }
  return { logsRemoved, rollupsRemoved, webhookDeliveriesRemoved, webhooksQueued, webhookSecretsSealed };
}
