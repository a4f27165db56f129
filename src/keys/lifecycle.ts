// Key lifecycle: create, update, activate/deactivate, revoke, delete. Domain code: plain
// inputs, tagged results, no HTTP. Every change lands in D1 (with its audit entry, in one
// batch) and is then written through to KV and to the limit store's revocation marker.

import { newKeyId, writeToken } from '../lib/ids';
import type { Budget, Credits, Limits } from '../config/schema';
import { auditStampedStatement, auditStatement, type AuditAction } from './audit';
import { digestKey } from './digest';
import { displayParts, generateKey } from './key-format';
import type { KeyStore } from './key-store';
import { OutboxRepository, outboxRowOf } from './outbox-repository';
import type { KeyRecord } from './record';
import { blockReasonOf, isUsable } from './status';
import { fromRow, type KeyRow } from './repository';
import type { ServiceResult, SyncState } from './result';
import type { SecretBox } from '../lib/secret-box';
import { rotateKey } from './rotation';
import { complete, refresh, targetOf, type MarkerWriter, type SyncDeps } from './sync';

export type { ServiceFailure, ServiceResult, SyncState } from './result';

/** The settings a caller chooses for a new key: the record's own fields, plus create options. */
export type CreateKeyInput = Pick<
  KeyRecord,
  'name' | 'description' | 'owner' | 'type' | 'scopes' | 'tags' | 'metadata' | 'allowed_ips' | 'allowed_referers' | 'policy' | 'expires_at' | 'prefix'
> & {
  /** With an owner key cap: deactivate the owner's active keys instead of refusing. */
  replace_existing: boolean;
};

/** Policy parts to set (a value), remove (null) or keep (absent); merged inside the mutation. */
export interface PolicyPatch {
  limits?: Limits | null;
  model_limits?: Record<string, Limits> | null;
  budget?: Budget | null;
  models?: string[] | null;
  credits?: Credits | null;
  max_concurrent?: number | null;
}

export type UpdateKeyInput = Partial<Omit<CreateKeyInput, 'prefix' | 'replace_existing' | 'policy'>> & { policy?: PolicyPatch };

/** A committed change and whether its snapshot and marker are written yet. */
export interface Changed {
  record: KeyRecord;
  marker: SyncState;
}

export interface KeyLifecycleOptions {
  db: D1Database;
  store: KeyStore;
  maxKeysPerOwner?: number;
  writeMarker: MarkerWriter;
  now?: () => number;
}

const MUTABLE: readonly (keyof Omit<UpdateKeyInput, 'policy'> | 'policy')[] = ['name', 'description', 'owner', 'type', 'scopes', 'tags', 'metadata', 'allowed_ips', 'allowed_referers', 'policy', 'expires_at'];

/** Applies a policy patch to the current policy (not to a copy read before the mutation). */
function mergePolicy(current: KeyRecord['policy'], patch: PolicyPatch): KeyRecord['policy'] {
  const policy = { ...current };
  for (const k of ['limits', 'model_limits', 'budget', 'models', 'credits', 'max_concurrent'] as const) {
    const v = patch[k];
    if (v === undefined) continue;
    if (v === null) delete policy[k];
    else (policy as Record<typeof k, unknown>)[k] = v;
  }
  return policy;
}

export class KeyLifecycle {
  private readonly outbox: OutboxRepository;

  constructor(private readonly opts: KeyLifecycleOptions) {
    this.outbox = new OutboxRepository(opts.db);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  get repo() {
    return this.opts.store.repo;
  }

  private get sync(): SyncDeps {
    return { db: this.opts.db, store: this.opts.store, writeMarker: this.opts.writeMarker, now: () => this.now() };
  }

  async create(input: CreateKeyInput, actor: string): Promise<ServiceResult<{ record: KeyRecord; plaintext: string; marker: SyncState }>> {
    const now = this.now();
    const { plaintext, parsed } = generateKey(input.prefix);
    const { start, end } = displayParts(parsed);
    const record: KeyRecord = {
      id: newKeyId(now),
      digest: digestKey(plaintext),
      prefix: input.prefix,
      start,
      end,
      name: input.name,
      description: input.description,
      owner: input.owner,
      type: input.type,
      scopes: input.scopes,
      tags: input.tags,
      metadata: input.metadata,
      allowed_ips: input.allowed_ips,
      allowed_referers: input.allowed_referers,
      policy: input.policy,
      expires_at: input.expires_at,
      is_active: true,
      revoked_at: null,
      revoked_reason: null,
      last_used_at: null,
      rotated_to: null,
      counter_id: null,
      created_at: now,
      updated_at: now,
    };

    const { db } = this.opts;
    const cap = this.opts.maxKeysPerOwner;
    const capped = cap !== undefined && input.owner !== null;
    const replacing = capped && input.replace_existing;
    const statements: D1PreparedStatement[] = [];
    const stamp = writeToken();
    const token = writeToken();
    if (replacing) {
      // Deactivate in the same batch and learn from RETURNING exactly which keys it hit,
      // including ones created concurrently since we started.
      statements.push(this.repo.deactivateOwnerStatement(input.owner as string, now, stamp));
      statements.push(auditStampedStatement(db, { at: now, actor, action: 'deactivate', changes: ['is_active'] }, stamp));
      statements.push(this.outbox.enqueueStampedStatement(stamp, token, now));
    }
    // The owner cap is checked inside the INSERT itself so concurrent creates cannot exceed it.
    const insertAt = statements.length;
    statements.push(capped ? this.repo.insertIfUnderCap(record, cap as number, now) : this.repo.insertStatement(record));
    const exists = this.repo.existsGuard(record.id);
    statements.push(auditStatement(db, { at: now, actor, action: 'create', key_id: record.id, changes: [] }, exists));
    statements.push(this.outbox.enqueueStatement(outboxRowOf(record, token, now), exists));
    const results = await db.batch<KeyRow>(statements);
    if (results[insertAt]?.meta.changes !== 1) {
      return { ok: false, code: 'conflict', message: `owner ${input.owner} already has ${cap} active key(s); pass "replace_existing": true to deactivate them` };
    }
    // From here on the key exists: whatever fails, the caller gets its plaintext (the outbox
    // finishes what is left).
    let marker: SyncState = 'done';
    if (replacing) {
      for (const row of results[0]?.results ?? []) {
        const off = fromRow(row);
        if ((await complete(this.sync, targetOf(off), token, true, actor)) === 'pending') marker = 'pending';
      }
    }
    // Under an owner cap a concurrent create may already have deactivated this key: write what D1 holds.
    let fresh = record;
    if (capped) fresh = (await this.repo.byId(record.id).catch(() => null)) ?? record;
    const own = await complete(this.sync, targetOf(fresh), token, !isUsable(fresh, this.now()), actor);
    return { ok: true, value: { record: fresh, plaintext, marker: own === 'pending' ? own : marker } };
  }

  async get(id: string): Promise<KeyRecord | null> {
    return this.repo.byId(id);
  }

  /** Applies `change` to the current record and writes it, retrying on a concurrent update. */
  private async mutate(
    id: string,
    actor: string,
    action: AuditAction,
    change: (current: KeyRecord, now: number) => ServiceResult<KeyRecord>,
  ): Promise<ServiceResult<Changed>> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.repo.byId(id);
      if (!current) return { ok: false, code: 'not_found' };
      const now = Math.max(this.now(), current.updated_at + 1);
      const next = change(current, now);
      if (!next.ok) return next;
      const changed = changedFields(current, next.value);
      // Nothing to write (e.g. revoking a revoked key): no audit entry, but refresh KV and the marker.
      if (changed.length === 0) {
        const marker = await refresh(this.sync, current, blockReasonOf(current, now) !== null, actor);
        return { ok: true, value: { record: current, marker } };
      }
      const record = { ...next.value, updated_at: now };
      const cap = this.opts.maxKeysPerOwner;
      // The owner cap applies whenever a change could add a usable key to an owner.
      const needsCap = cap !== undefined && record.owner !== null && isUsable(record, now) && (!isUsable(current, now) || current.owner !== record.owner);
      const stamp = writeToken();
      const token = writeToken();
      const applied = this.repo.stampedGuard(id, stamp);
      const [res] = await this.opts.db.batch([
        this.repo.replaceStatement(record, current.updated_at, stamp, needsCap ? { cap: cap as number, now } : undefined),
        auditStatement(this.opts.db, { at: now, actor, action, key_id: id, changes: changed }, applied),
        this.outbox.enqueueStatement(outboxRowOf(record, token, now), applied),
      ]);
      if (res?.meta.changes === 1) {
        const before = blockReasonOf(current, now);
        const after = blockReasonOf(record, now);
        const marker = await complete(this.sync, targetOf(record), token, before !== after || after !== null, actor);
        return { ok: true, value: { record, marker } };
      }
      if (needsCap) {
        const again = await this.repo.byId(id);
        if (again && again.updated_at === current.updated_at) {
          return { ok: false, code: 'conflict', message: `owner ${record.owner} already has ${cap} active key(s)` };
        }
      }
      // Lost a race with another admin change (no audit row was written): re-read and retry.
    }
    return { ok: false, code: 'conflict', message: 'the key is being changed concurrently; retry' };
  }

  update(id: string, patch: UpdateKeyInput, actor: string) {
    return this.mutate(id, actor, 'update', (cur) => {
      if (cur.revoked_at !== null) return { ok: false, code: 'conflict', message: 'a revoked key cannot be changed' };
      const { policy, ...fields } = patch;
      return { ok: true, value: { ...cur, ...fields, policy: policy ? mergePolicy(cur.policy, policy) : cur.policy } };
    });
  }

  setActive(id: string, active: boolean, actor: string) {
    return this.mutate(id, actor, active ? 'activate' : 'deactivate', (cur) => {
      if (cur.revoked_at !== null) return { ok: false, code: 'conflict', message: 'a revoked key cannot be reactivated or deactivated' };
      return { ok: true, value: { ...cur, is_active: active } };
    });
  }

  revoke(id: string, reason: string, actor: string) {
    return this.mutate(id, actor, 'revoke', (cur, now) => {
      // Revocation is final; revoking again keeps the first time and reason but rewrites KV.
      if (cur.revoked_at !== null) return { ok: true, value: cur };
      return { ok: true, value: { ...cur, revoked_at: now, revoked_reason: reason } };
    });
  }

  extend(id: string, expiresAt: number | null, actor: string) {
    return this.mutate(id, actor, 'extend', (cur) => {
      if (cur.revoked_at !== null) return { ok: false, code: 'conflict', message: 'a revoked key cannot be extended' };
      return { ok: true, value: { ...cur, expires_at: expiresAt } };
    });
  }

  /** See rotation.ts. */
  rotate(id: string, graceSeconds: number, actor: string, idempotencyKey?: string, signingBox?: () => Promise<SecretBox>) {
    return rotateKey(this.sync, id, graceSeconds, actor, idempotencyKey, signingBox);
  }

  async delete(id: string, actor: string): Promise<ServiceResult<Changed>> {
    const current = await this.repo.byId(id);
    if (!current) return { ok: false, code: 'not_found' };
    const now = this.now();
    const token = writeToken();
    await this.opts.db.batch([
      this.repo.deleteStatement(id),
      auditStatement(this.opts.db, { at: now, actor, action: 'delete', key_id: id, changes: [] }),
      this.outbox.enqueueStatement(outboxRowOf(current, token, now)),
    ]);
    const marker = await complete(this.sync, { ...targetOf(current), record: null }, token, true, actor);
    return { ok: true, value: { record: current, marker } };
  }
}

/** Audit names for what changed, in the API's vocabulary (limits, model_limits, budget). */
function changedFields(a: KeyRecord, b: KeyRecord): string[] {
  const out: string[] = MUTABLE.filter((f) => f !== 'policy' && JSON.stringify(a[f]) !== JSON.stringify(b[f]));
  for (const f of ['limits', 'model_limits', 'budget', 'models', 'credits', 'max_concurrent'] as const) {
    if (JSON.stringify(a.policy[f]) !== JSON.stringify(b.policy[f])) out.push(f);
  }
  if (a.is_active !== b.is_active) out.push('is_active');
  if (a.revoked_at !== b.revoked_at) out.push('revoked_at', 'revoked_reason');
  if (a.rotated_to !== b.rotated_to) out.push('rotated_to');
  return out;
}
