// Key lifecycle: create, update, activate/deactivate, revoke, delete. Domain code: plain
// inputs, tagged results, no HTTP. Every change lands in D1 (with its audit entry, in one
// batch) and is then written through to KV and to the limit store's revocation marker.

import { newKeyId, ulid, writeToken } from '../lib/ids';
import { auditStatement, type AuditAction } from './audit';
import { digestKey } from './digest';
import { displayParts, generateKey } from './key-format';
import type { KeyStore } from './key-store';
import { fromRow } from './repository';
import { rotateKey } from './rotation';
import type { KeyRecord } from './record';

/** The settings a caller chooses for a new key: the record's own fields, plus create options. */
export type CreateKeyInput = Pick<
  KeyRecord,
  'name' | 'description' | 'owner' | 'type' | 'scopes' | 'tags' | 'metadata' | 'allowed_ips' | 'allowed_referers' | 'policy' | 'expires_at' | 'prefix'
> & {
  /** With an owner key cap: deactivate the owner's active keys instead of refusing. */
  replace_existing: boolean;
};

export type UpdateKeyInput = Partial<Omit<CreateKeyInput, 'prefix' | 'replace_existing'>>;

export type ServiceFailure = { ok: false; code: 'not_found' | 'conflict' | 'bad_request'; message?: string };
export type ServiceResult<T> = { ok: true; value: T } | ServiceFailure;

export type BlockReason = 'key_revoked' | 'key_inactive' | 'key_expired' | 'invalid_key';

/** Called when a key's usability changes: a reason when it stops being usable, null when it is usable again. */
export type UsabilityHook = (record: KeyRecord, reason: BlockReason | null) => Promise<void>;

export function blockReasonOf(r: KeyRecord, now: number): BlockReason | null {
  if (r.revoked_at !== null) return 'key_revoked';
  if (!r.is_active) return 'key_inactive';
  if (r.expires_at !== null && r.expires_at <= now) return 'key_expired';
  return null;
}

export interface KeyServiceOptions {
  db: D1Database;
  store: KeyStore;
  maxKeysPerOwner?: number;
  onUsabilityChanged?: UsabilityHook;
  now?: () => number;
}

const MUTABLE: readonly (keyof UpdateKeyInput)[] = ['name', 'description', 'owner', 'type', 'scopes', 'tags', 'metadata', 'allowed_ips', 'allowed_referers', 'policy', 'expires_at'];

export class KeyService {
  constructor(private readonly opts: KeyServiceOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  get repo() {
    return this.opts.store.repo;
  }

  async create(input: CreateKeyInput, actor: string): Promise<ServiceResult<{ record: KeyRecord; plaintext: string }>> {
    const now = this.now();
    const { plaintext, parsed } = generateKey(input.prefix);
    const { start, end } = displayParts(parsed);
    const record: KeyRecord = {
      id: newKeyId(now),
      digest: await digestKey(plaintext),
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
      created_at: now,
      updated_at: now,
    };

    const { db } = this.opts;
    const cap = this.opts.maxKeysPerOwner;
    const capped = cap !== undefined && input.owner !== null;
    const statements: D1PreparedStatement[] = [];
    const token = writeToken();
    if (capped && input.replace_existing) {
      // Deactivate in the same batch and learn from RETURNING exactly which keys it hit,
      // including ones created concurrently since we started.
      statements.push(this.repo.deactivateOwnerStatement(input.owner as string, now, token));
      statements.push(
        db
          .prepare(
            `INSERT INTO audit_log (id, at, actor, action, key_id, changes) SELECT 'aud_' || ? || '_' || id, ?, ?, 'deactivate', id, '["is_active"]' FROM keys WHERE write_token = ?`,
          )
          .bind(ulid(now), now, actor, token),
      );
    }
    // The owner cap is checked inside the INSERT itself so concurrent creates cannot exceed it.
    statements.push(capped ? this.repo.insertIfUnderCap(record, cap as number, now) : this.repo.insertStatement(record));
    statements.push(
      auditStatement(db, { at: now, actor, action: 'create', key_id: record.id, changes: [] }, { sql: 'EXISTS (SELECT 1 FROM keys WHERE id = ?)', args: [record.id] }),
    );
    const results = await db.batch<Record<string, unknown>>(statements);
    const inserted = results[results.length - 2];
    if (!inserted || inserted.meta.changes !== 1) {
      return { ok: false, code: 'conflict', message: `owner ${input.owner} already has ${cap} active key(s); pass "replace_existing": true to deactivate them` };
    }
    if (capped && input.replace_existing) {
      for (const row of results[0]?.results ?? []) {
        const off = fromRow(row as unknown as Parameters<typeof fromRow>[0]);
        await this.opts.store.writeSnapshot(off);
        await this.notify(off, 'key_inactive');
      }
    }
    // Under an owner cap a concurrent create may already have deactivated this key: write what D1 holds.
    const fresh = capped ? ((await this.repo.byId(record.id)) ?? record) : record;
    await this.opts.store.writeSnapshot(fresh);
    if (!isUsable(fresh, this.now())) await this.notify(fresh, blockReasonOf(fresh, this.now()));
    return { ok: true, value: { record: fresh, plaintext } };
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
  ): Promise<ServiceResult<KeyRecord>> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.repo.byId(id);
      if (!current) return { ok: false, code: 'not_found' };
      const now = Math.max(this.now(), current.updated_at + 1);
      const next = change(current, now);
      if (!next.ok) return next;
      const changed = changedFields(current, next.value);
      // Nothing to write (e.g. revoking a revoked key): no audit entry, but refresh KV.
      if (changed.length === 0) {
        await this.opts.store.writeSnapshot(current);
        const reason = blockReasonOf(current, now);
        if (reason !== null) await this.notify(current, reason);
        return { ok: true, value: current };
      }
      const record = { ...next.value, updated_at: now };
      const cap = this.opts.maxKeysPerOwner;
      // The owner cap applies whenever a change could add a usable key to an owner.
      const needsCap = cap !== undefined && record.owner !== null && isUsable(record, now) && (!isUsable(current, now) || current.owner !== record.owner);
      const token = writeToken();
      const [res] = await this.opts.db.batch([
        this.repo.replaceStatement(record, current.updated_at, token, needsCap ? { cap: cap as number, now } : undefined),
        auditStatement(
          this.opts.db,
          { at: now, actor, action, key_id: id, changes: changed },
          { sql: 'EXISTS (SELECT 1 FROM keys WHERE id = ? AND write_token = ?)', args: [id, token] },
        ),
      ]);
      if (res?.meta.changes === 1) {
        await this.opts.store.writeSnapshot(record);
        const before = blockReasonOf(current, now);
        const after = blockReasonOf(record, now);
        if (before !== after || after !== null) await this.notify(record, after);
        return { ok: true, value: record };
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
      return { ok: true, value: { ...cur, ...patch } };
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
  rotate(id: string, graceSeconds: number, actor: string, idempotencyKey?: string) {
    return rotateKey(
      { db: this.opts.db, store: this.opts.store, now: () => this.now(), notify: (r, reason) => this.notify(r, reason) },
      id,
      graceSeconds,
      actor,
      idempotencyKey,
    );
  }

  async delete(id: string, actor: string): Promise<ServiceResult<KeyRecord>> {
    const current = await this.repo.byId(id);
    if (!current) return { ok: false, code: 'not_found' };
    const now = this.now();
    await this.opts.db.batch([
      this.opts.db.prepare('DELETE FROM keys WHERE id = ?').bind(id),
      auditStatement(this.opts.db, { at: now, actor, action: 'delete', key_id: id, changes: [] }),
    ]);
    await this.opts.store.removeSnapshot(current.digest);
    await this.notify(current, 'invalid_key');
    return { ok: true, value: current };
  }

  private async notify(record: KeyRecord, reason: BlockReason | null): Promise<void> {
    await this.opts.onUsabilityChanged?.(record, reason);
  }
}

/** Audit names for what changed, in the API's vocabulary (limits, model_limits, budget). */
function changedFields(a: KeyRecord, b: KeyRecord): string[] {
  const out: string[] = MUTABLE.filter((f) => f !== 'policy' && JSON.stringify(a[f]) !== JSON.stringify(b[f]));
  for (const f of ['limits', 'model_limits', 'budget'] as const) {
    if (JSON.stringify(a.policy[f]) !== JSON.stringify(b.policy[f])) out.push(f);
  }
  if (a.is_active !== b.is_active) out.push('is_active');
  if (a.revoked_at !== b.revoked_at) out.push('revoked_at', 'revoked_reason');
  if (a.rotated_to !== b.rotated_to) out.push('rotated_to');
  return out;
}

export function isUsable(r: KeyRecord, now: number): boolean {
  return r.is_active && r.revoked_at === null && (r.expires_at === null || r.expires_at > now);
}
