// What follows an admin change's D1 commit: the KV snapshot and the limit store's
// revocation marker. Neither may fail the change half-way, and neither may be lost: the
// change's D1 batch enqueues an outbox row (outbox-repository.ts), the row is deleted once
// both writes succeed, and while it stays the change is `pending` and drainOutbox() retries
// it from the key's current D1 state (after every admin call, and from the cron).

import { audit } from './audit';
import type { KeyStore } from './key-store';
import { OutboxRepository } from './outbox-repository';
import { counterIdOf, type KeyRecord } from './record';
import { blockReasonOf, type BlockReason } from './status';
import type { SyncState } from './result';

/** Writes (or clears, with null) a key's revocation marker; false when the store failed. */
export type MarkerWriter = (key: { keyId: string; counterId: string; owner: string | null }, reason: BlockReason | null) => Promise<boolean>;

export interface SyncDeps {
  db: D1Database;
  store: KeyStore;
  writeMarker: MarkerWriter;
  now: () => number;
}

/** One key to sync: its record as committed, or null once deleted. */
export interface SyncTarget {
  keyId: string;
  digest: string;
  /** Where the store keeps the key's counters and marker (see record.ts counterIdOf). */
  counterId: string;
  /** Its owner, whose limit shard keeps a copy of the marker. */
  owner: string | null;
  record: KeyRecord | null;
}

export const targetOf = (record: KeyRecord): SyncTarget => ({ keyId: record.id, digest: record.digest, counterId: counterIdOf(record), owner: record.owner, record });

const ACTOR = 'outbox';

/** Writes (or removes) the snapshot, and the marker when `marker`; returns what failed ('kv', 'marker'). */
async function propagate(deps: SyncDeps, target: SyncTarget, marker: boolean): Promise<string[]> {
  const failed: string[] = [];
  const reason = target.record ? blockReasonOf(target.record, deps.now()) : 'invalid_key';
  try {
    // Deleted and expired keys leave KV (D1 answers for them); every other state is written.
    if (target.record && reason !== 'key_expired') await deps.store.writeSnapshot(target.record);
    else await deps.store.removeSnapshot(target.digest);
  } catch {
    failed.push('kv');
  }
  if (marker && !(await deps.writeMarker(target, reason))) failed.push('marker');
  return failed;
}

/**
 * Completes a committed change whose batch enqueued `token` for the key. `marker` says
 * whether the change touched the key's usability (a rename of an active key does not).
 */
export async function complete(deps: SyncDeps, target: SyncTarget, token: string, marker: boolean, actor: string): Promise<SyncState> {
  const outbox = new OutboxRepository(deps.db);
  const failed = await propagate(deps, target, marker);
  try {
    if (failed.length === 0) {
      await outbox.doneStatement(target.keyId, token).run();
      return 'done';
    }
    await outbox.failed(target.keyId, token, failed.join(','));
    await audit(deps.db, { at: deps.now(), actor, action: 'marker_pending', key_id: target.keyId, changes: failed });
  } catch {
    // D1 failed after the commit: the outbox row (written with the change) stays, so the
    // change is still retried; it is pending either way.
  }
  console.warn(JSON.stringify({ level: 'warn', event: 'admin_sync_pending', key_id: target.keyId, failed }));
  return 'pending';
}

/** Like complete(), for a change that wrote nothing to D1 (so enqueues only on failure). */
export async function refresh(deps: SyncDeps, record: KeyRecord, marker: boolean, actor: string): Promise<SyncState> {
  const target = targetOf(record);
  const failed = await propagate(deps, target, marker);
  if (failed.length === 0) return 'done';
  const outbox = new OutboxRepository(deps.db);
  const token = crypto.randomUUID();
  await outbox.enqueue({ key_id: record.id, digest: record.digest, counter_id: target.counterId, owner: target.owner, token, at: deps.now() });
  await outbox.failed(record.id, token, failed.join(','));
  await audit(deps.db, { at: deps.now(), actor, action: 'marker_pending', key_id: record.id, changes: failed });
  console.warn(JSON.stringify({ level: 'warn', event: 'admin_sync_pending', key_id: record.id, failed }));
  return 'pending';
}

export interface DrainReport {
  written: number;
  pending: number;
}

/** Retries pending changes from each key's current D1 state (bounded work per call). */
export async function drainOutbox(deps: SyncDeps, limit = 25): Promise<DrainReport> {
  const outbox = new OutboxRepository(deps.db);
  const rows = await outbox.pending(limit);
  const report = { written: 0, pending: 0 };
  for (const row of rows) {
    const record = await deps.store.repo.byId(row.key_id);
    const target = record ? targetOf(record) : { keyId: row.key_id, digest: row.digest, counterId: row.counter_id ?? row.key_id, owner: row.owner, record: null };
    const failed = await propagate(deps, target, true);
    if (failed.length > 0) {
      await outbox.failed(row.key_id, row.token, failed.join(','));
      report.pending++;
      continue;
    }
    const res = await outbox.doneStatement(row.key_id, row.token).run();
    if (res.meta.changes === 1 && row.last_error !== null) {
      await audit(deps.db, { at: deps.now(), actor: ACTOR, action: 'marker_written', key_id: row.key_id, changes: [] });
    }
    report.written++;
  }
  return report;
}
