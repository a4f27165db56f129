// Key rotation: a new key with the same settings, the old one kept working for a grace
// period. With an Idempotency-Key a retry returns the first result (sealed with that key in
// D1, never readable without it) and never issues a second key. Domain code: no HTTP.

import { auditStatement } from './audit';
import { digestKey } from './digest';
import { displayParts, generateKey } from './key-format';
import type { KeyStore } from './key-store';
import type { KeyRecord } from './record';
import type { BlockReason, ServiceResult } from './service';
import { newKeyId, writeToken } from '../lib/ids';
import { open, seal, sha256Hex } from '../lib/sealed';

export interface RotationDeps {
  db: D1Database;
  store: KeyStore;
  now: () => number;
  notify: (record: KeyRecord, reason: BlockReason | null) => Promise<void>;
}

/**
 * Issues a new key with the same settings; the old one keeps working for `graceSeconds`
 * (0 = stops at once) and points to its successor. With an idempotency key, a retry returns
 * the first result (sealed with that key) and never issues a second key.
 */
export async function rotateKey(
  deps: RotationDeps,
  id: string,
  graceSeconds: number,
  actor: string,
  idempotencyKey?: string,
): Promise<ServiceResult<{ record: KeyRecord; plaintext: string; previous: KeyRecord; replayed: boolean }>> {
  type Stored = { record: KeyRecord; plaintext: string; previous: KeyRecord };
  const repo = deps.store.repo;
  const idemId = idempotencyKey ? await sha256Hex(`rotate:${id}:${idempotencyKey}`) : undefined;
  const replay = async (): Promise<Stored | null> => {
    if (!idemId || !idempotencyKey) return null;
    const row = await deps.db.prepare('SELECT response FROM idempotency WHERE key = ?').bind(idemId).first<{ response: string }>();
    return row ? open<Stored>(idempotencyKey, `rotate:${id}`, row.response) : null;
  };
  // A replay answers with the first plaintext and the records as they are now.
  const fresh = async (r: Stored) => ({
    record: (await repo.byId(r.record.id)) ?? r.record,
    previous: (await repo.byId(r.previous.id)) ?? r.previous,
    plaintext: r.plaintext,
    replayed: true,
  });
  const earlier = await replay();
  if (earlier) return { ok: true, value: await fresh(earlier) };

  const current = await repo.byId(id);
  if (!current) return { ok: false, code: 'not_found' };
  if (current.revoked_at !== null) return { ok: false, code: 'conflict', message: 'a revoked key cannot be rotated' };
  if (current.rotated_to !== null) return { ok: false, code: 'conflict', message: `this key was already rotated to ${current.rotated_to}` };
  if (current.expires_at !== null && current.expires_at <= deps.now()) {
    return { ok: false, code: 'conflict', message: 'an expired key cannot be rotated; extend it first or create a new key' };
  }

  const now = Math.max(deps.now(), current.updated_at + 1);
  const { plaintext, parsed } = generateKey(current.prefix);
  const { start, end } = displayParts(parsed);
  const record: KeyRecord = {
    ...current,
    id: newKeyId(now),
    digest: await digestKey(plaintext),
    start,
    end,
    is_active: true,
    last_used_at: null,
    rotated_to: null,
    created_at: now,
    updated_at: now,
  };
  const graceEnd = now + graceSeconds * 1000;
  const previous: KeyRecord = {
    ...current,
    rotated_to: record.id,
    expires_at: current.expires_at === null ? graceEnd : Math.min(current.expires_at, graceEnd),
    updated_at: now,
  };
  const { db } = deps;
  const token = writeToken();
  const statements = [
    repo.replaceStatement(previous, current.updated_at, token),
    // Only if the guarded update above applied: nobody changed or rotated the key meanwhile.
    repo.insertIfStamped(record, { id: current.id, token }),
    auditStatement(db, { at: now, actor, action: 'rotate', key_id: current.id, changes: ['rotated_to', 'expires_at'] }, { sql: 'EXISTS (SELECT 1 FROM keys WHERE id = ?)', args: [record.id] }),
    auditStatement(db, { at: now, actor, action: 'create', key_id: record.id, changes: [] }, { sql: 'EXISTS (SELECT 1 FROM keys WHERE id = ?)', args: [record.id] }),
  ];
  if (idemId && idempotencyKey) {
    const sealed = await seal(idempotencyKey, `rotate:${id}`, { record, plaintext, previous } satisfies Stored);
    // A primary-key clash aborts the whole batch: a concurrent retry already rotated.
    statements.push(db.prepare('INSERT INTO idempotency (key, response, created_at) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM keys WHERE id = ?)').bind(idemId, sealed, now, record.id));
  }
  let results: D1Result[];
  try {
    results = await db.batch(statements);
  } catch (error) {
    const raced = await replay();
    if (raced) return { ok: true, value: await fresh(raced) };
    throw error;
  }
  if (results[1]?.meta.changes !== 1) {
    // A concurrent retry with the same Idempotency-Key won: answer with its result.
    const raced = await replay();
    if (raced) return { ok: true, value: await fresh(raced) };
    return { ok: false, code: 'conflict', message: 'the key changed or was rotated concurrently; retry' };
  }
  await deps.store.writeSnapshot(record);
  await deps.store.writeSnapshot(previous);
  if (graceSeconds === 0) await deps.notify(previous, 'key_expired');
  return { ok: true, value: { record, plaintext, previous, replayed: false } };
}
