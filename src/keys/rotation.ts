// Key rotation: a new key with the same settings, the old one kept working for a grace
// period. With an Idempotency-Key a retry returns the first result (sealed with that key in
// D1, never readable without it) and never issues a second key. A key with a signing secret
// hands its successor a new one in the same batch (clients of signed requests keep working
// after the grace period): the batch itself decides, so a secret issued to the key while it
// is being rotated is carried too. A retry answers the successor's secret only while it is
// still the one this rotation issued. Domain code: no HTTP.

import { auditStatement } from './audit';
import { digestKey } from './digest';
import { IdempotencyRepository } from './idempotency-repository';
import { displayParts, generateKey } from './key-format';
import { OutboxRepository, outboxRowOf } from './outbox-repository';
import { counterIdOf, type KeyRecord } from './record';
import { blockReasonOf } from './status';
import type { ServiceResult, SyncState } from './result';
import { complete, targetOf, type SyncDeps } from './sync';
import { newKeyId, writeToken } from '../lib/ids';
import type { SecretBox } from '../lib/secret-box';
import { open, seal } from '../lib/sealed';
import { forgetSigningKey, sealedNewSecret, sealedSigningSecret, signingSecretStatement } from '../signing/secret-store';
import { sha256Hex } from '../lib/sha256';

/**
 * Issues a new key with the same settings; the old one keeps working for `graceSeconds`
 * (0 = stops at once) and points to its successor. With an idempotency key, a retry returns
 * the first result (sealed with that key) and never issues a second key.
 */
export async function rotateKey(
  deps: SyncDeps,
  id: string,
  graceSeconds: number,
  actor: string,
  idempotencyKey?: string,
  signingBox?: () => Promise<SecretBox>,
): Promise<ServiceResult<{ record: KeyRecord; plaintext: string; signingSecret?: string; previous: KeyRecord; replayed: boolean; marker: SyncState }>> {
  // signingSealed: the successor's sealed secret as this rotation wrote it (a retry compares it
  // with D1's, so a secret re-issued since, or never carried, is not handed out).
  type Stored = { record: KeyRecord; plaintext: string; signingSecret?: string; signingSealed?: string; previous: KeyRecord };
  const repo = deps.store.repo;
  const idempotency = new IdempotencyRepository(deps.db);
  const outbox = new OutboxRepository(deps.db);
  const idemId = idempotencyKey ? sha256Hex(`rotate:${id}:${idempotencyKey}`) : undefined;
  const replay = async (): Promise<Stored | null> => {
    if (!idemId || !idempotencyKey) return null;
    const sealed = await idempotency.sealed(idemId);
    return sealed ? open<Stored>(idempotencyKey, `rotate:${id}`, sealed) : null;
  };
  // A replay answers with the first plaintext and the records as they are now.
  const stillIssued = async (r: Stored) =>
    r.signingSecret !== undefined && (r.signingSealed === undefined || (await sealedSigningSecret(deps.db, r.record.id)) === r.signingSealed);
  const fresh = async (r: Stored) => ({
    record: (await repo.byId(r.record.id)) ?? r.record,
    previous: (await repo.byId(r.previous.id)) ?? r.previous,
    plaintext: r.plaintext,
    ...((await stillIssued(r)) ? { signingSecret: r.signingSecret } : {}),
    replayed: true,
    // The first call reported its own sync state; the outbox tells whether anything is left.
    marker: ((await outbox.has(r.record.id)) || (await outbox.has(r.previous.id)) ? 'pending' : 'done') as SyncState,
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
  // The successor inherits the key's state (a deactivated key's successor is deactivated too)
  // and its counter identity, so rotation never resets a spent budget or a limit window.
  const record: KeyRecord = {
    ...current,
    id: newKeyId(now),
    digest: digestKey(plaintext),
    start,
    end,
    last_used_at: null,
    rotated_to: null,
    counter_id: counterIdOf(current),
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
  // The successor's secret is sealed before anything is written: for a key with a secret and
  // no master key to seal it with (signingBox throws), the rotation stops here rather than
  // leave signed clients a key they cannot sign with. Whether the successor gets it is decided
  // in the batch (the key has a secret then), so one is sealed whenever a master is at hand.
  let box: SecretBox | null = null;
  if (signingBox) box = (await sealedSigningSecret(db, current.id)) !== null ? await signingBox() : await signingBox().catch(() => null);
  const secret = box ? await sealedNewSecret(box, record.id) : null;
  const stamp = writeToken();
  const token = writeToken();
  const inserted = repo.existsGuard(record.id);
  const statements = [
    repo.replaceStatement(previous, current.updated_at, stamp),
    // Only if the guarded update above applied: nobody changed or rotated the key meanwhile.
    repo.insertIfStamped(record, { id: current.id, token: stamp }),
    auditStatement(db, { at: now, actor, action: 'rotate', key_id: current.id, changes: ['rotated_to', 'expires_at'] }, inserted),
    auditStatement(db, { at: now, actor, action: 'create', key_id: record.id, changes: [] }, inserted),
    outbox.enqueueStatement(outboxRowOf(previous, token, now), inserted),
    outbox.enqueueStatement(outboxRowOf(record, token, now), inserted),
  ];
  const secretAt = statements.length;
  if (secret) {
    // Only if the successor was inserted and the key has a secret at this moment.
    const keyHasSecret = { sql: `${inserted.sql} AND EXISTS (SELECT 1 FROM signing_secrets WHERE key_id = ?)`, args: [...inserted.args, current.id] };
    statements.push(signingSecretStatement(db, record.id, secret.sealed, now, keyHasSecret));
    statements.push(auditStatement(db, { at: now, actor, action: 'signing_secret', key_id: record.id, changes: ['signing_secret'] }, keyHasSecret));
  }
  if (idemId && idempotencyKey) {
    const issued = secret ? { signingSecret: secret.plaintext, signingSealed: secret.sealed.sealed } : {};
    const sealed = await seal(idempotencyKey, `rotate:${id}`, { record, plaintext, ...issued, previous } satisfies Stored);
    statements.push(idempotency.insertStatement(idemId, sealed, now, inserted));
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
  // A grace of 0 ends the old key now: its marker must be written (and the successor of an
  // unusable key gets its own).
  const previousMarker = await complete(deps, targetOf(previous), token, blockReasonOf(previous, now) !== null, actor);
  const recordMarker = await complete(deps, targetOf(record), token, blockReasonOf(record, now) !== null, actor);
  const marker: SyncState = previousMarker === 'pending' || recordMarker === 'pending' ? 'pending' : 'done';
  const carried = secret !== null && results[secretAt]?.meta.changes === 1;
  if (carried) forgetSigningKey(record.id);
  const signingSecret = carried ? { signingSecret: secret.plaintext } : {};
  return { ok: true, value: { record, plaintext, ...signingSecret, previous, replayed: false, marker } };
}
