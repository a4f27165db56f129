// The one key-state rule: what the access check refuses, what a marker says, the status the
// admin API shows and the SQL that lists and caps keys all agree for every key state.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockReasonOf, isUsable, keyStatus, statusSql, type KeyState, type KeyStatus } from '../../src/keys/status';
import { testEnv } from '../harness/gateway';

const NOW = 1_800_000_000_000;
const state = fc.record<KeyState>({
  revoked_at: fc.option(fc.integer({ min: 0, max: 2 * NOW }), { nil: null }),
  is_active: fc.boolean(),
  expires_at: fc.option(fc.constantFrom(NOW - 1, NOW, NOW + 1, 0, 2 * NOW), { nil: null }),
});
const STATUSES: KeyStatus[] = ['active', 'inactive', 'revoked', 'expired'];

async function matchesSql(db: D1Database, s: KeyState, status: KeyStatus, alias: string): Promise<boolean> {
  const { sql, binds } = statusSql(status, alias);
  const from = alias ? `keys ${alias}` : 'keys';
  const query = `WITH keys(revoked_at, is_active, expires_at) AS (VALUES (?, ?, ?)) SELECT COUNT(*) AS n FROM ${from} WHERE ${sql}`;
  const args: unknown[] = [s.revoked_at, s.is_active ? 1 : 0, s.expires_at];
  if (binds === 1) args.push(NOW);
  const row = await db.prepare(query).bind(...args).first<{ n: number }>();
  return row?.n === 1;
}

describe('key status', () => {
  it('a key is usable exactly when its status is active, and refused with the reason its state names', () => {
    fc.assert(
      fc.property(state, (s) => {
        const status = keyStatus(s, NOW);
        expect(isUsable(s, NOW)).toBe(status === 'active');
        const reason = blockReasonOf(s, NOW);
        if (s.revoked_at !== null) expect(reason).toBe('key_revoked');
        else if (!s.is_active) expect(reason).toBe('key_inactive');
        else if (status === 'expired') expect(reason).toBe('key_expired');
        else expect(reason).toBeNull();
      }),
    );
  });

  it('listing by status and the owner cap select exactly the keys the status rule names', async () => {
    const db = testEnv().DB;
    await fc.assert(
      fc.asyncProperty(state, async (s) => {
        const status = keyStatus(s, NOW);
        for (const candidate of STATUSES) expect(await matchesSql(db, s, candidate, '')).toBe(candidate === status);
        expect(await matchesSql(db, s, 'active', 'k2')).toBe(isUsable(s, NOW));
      }),
      { numRuns: 60 },
    );
  });
});
