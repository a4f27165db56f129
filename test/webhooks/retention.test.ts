// Webhook history is kept LOG_RETENTION_DAYS (at least 32 days, so an alert's message id keeps
// debouncing its period) and removed by the cron; pending deliveries stay whatever their age.

import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/scheduled';
import { testEnv } from '../harness/gateway';

const DAY = 86_400_000;

async function seed(tag: string, now: number) {
  const at = (days: number) => now - days * DAY;
  const rows: [string, string, string, number, number][] = [
    // message, delivery, status, age in days of both, attempts
    [`msg_${tag}_old`, `whd_${tag}_done`, 'succeeded', 40, 2],
    [`msg_${tag}_oldpending`, `whd_${tag}_pending`, 'pending', 40, 1],
    [`msg_${tag}_recent`, `whd_${tag}_recent`, 'failed', 10, 8],
  ];
  const statements = rows.flatMap(([msg, whd, status, days, attempts]) => [
    env.DB.prepare('INSERT INTO webhook_messages (id, type, payload, created_at) VALUES (?, ?, ?, ?)').bind(msg, 'key.revoked', '{}', at(days)),
    env.DB.prepare('INSERT INTO webhook_deliveries (id, endpoint_id, message_id, status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').bind(whd, `whe_${tag}`, msg, status, attempts, at(days), at(days)),
    ...Array.from({ length: attempts }, (_, i) =>
      env.DB.prepare('INSERT INTO webhook_attempts (id, delivery_id, attempt, at, status, duration_ms) VALUES (?, ?, ?, ?, ?, ?)').bind(`wha_${whd}_${i}`, whd, i + 1, at(days), 500, 3),
    ),
  ]);
  // A message no delivery refers to (its endpoint was deleted), 20 days old.
  statements.push(env.DB.prepare('INSERT INTO webhook_messages (id, type, payload, created_at) VALUES (?, ?, ?, ?)').bind(`msg_${tag}_orphan`, 'limit.exceeded', '{}', at(20)));
  await env.DB.batch(statements);
}

const ids = async (table: string, tag: string) =>
  (await env.DB.prepare(`SELECT id FROM ${table} WHERE id LIKE ? ORDER BY id`).bind(`%${tag}%`).all<{ id: string }>()).results.map((r) => r.id);

describe('webhook history retention', () => {
  it('removes finished deliveries, their attempts and unreferenced messages past the retention (at least 32 days), never a pending delivery', async () => {
    const now = Date.now();
    await seed('ret1', now);
    const report = await runCleanup(testEnv({ LOG_RETENTION_DAYS: '7' }), now);
    expect(report.webhookDeliveriesRemoved).toBeGreaterThanOrEqual(1);
    expect(await ids('webhook_deliveries', 'ret1')).toEqual(['whd_ret1_pending', 'whd_ret1_recent']);
    expect(await ids('webhook_attempts', 'ret1')).toHaveLength(1 + 8);
    expect(await ids('webhook_attempts', 'whd_ret1_done')).toEqual([]);
    // 7 days asked, 32 kept: the 10- and 20-day-old messages stay, the pending one's too.
    expect(await ids('webhook_messages', 'ret1')).toEqual(['msg_ret1_oldpending', 'msg_ret1_orphan', 'msg_ret1_recent']);

    // A month on, the rest of what finished goes; the pending delivery still stays.
    await runCleanup(testEnv({ LOG_RETENTION_DAYS: '7' }), now + 30 * DAY);
    expect(await ids('webhook_deliveries', 'ret1')).toEqual(['whd_ret1_pending']);
    expect(await ids('webhook_messages', 'ret1')).toEqual(['msg_ret1_oldpending']);
    expect(await ids('webhook_attempts', 'ret1')).toEqual(['wha_whd_ret1_pending_0']);
  });

  it('keeps history for LOG_RETENTION_DAYS when that is longer than 32 days', async () => {
    const now = Date.now();
    await seed('ret2', now);
    await runCleanup(testEnv({ LOG_RETENTION_DAYS: '60' }), now);
    expect(await ids('webhook_deliveries', 'ret2')).toEqual(['whd_ret2_done', 'whd_ret2_pending', 'whd_ret2_recent']);
    expect(await ids('webhook_messages', 'ret2')).toHaveLength(4);
  });
});
