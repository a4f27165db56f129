// Webhook signing secrets at rest: sealed with the secret box (AES-256-GCM under
// SECRETS_MASTER_KEY, the endpoint id as additional data) and opened only to sign a delivery.
// Rows from before migration 0031 hold the plaintext; they keep delivering, and are sealed on
// their next delivery or by the cron's sweep, whichever comes first. A secret sealed under
// SECRETS_MASTER_KEY_PREVIOUS is re-sealed under the current master the same way, so the
// previous master can be removed once no row names it.
// Failures carry a reason fit for the delivery record: it names settings, never key material.

import { SecretBoxError, secretBoxFor, type SecretBox, type Sealed } from '../lib/secret-box';
import type { WebhookRepository } from './repository';

/** The master key settings (an Env satisfies it). */
export interface Masters {
  SECRETS_MASTER_KEY?: unknown;
  SECRETS_MASTER_KEY_PREVIOUS?: unknown;
}

/** An endpoint's secret columns: exactly one of `plaintext` (a legacy row) and `sealed` is set. */
export interface StoredSecret {
  plaintext: string | null;
  sealed: string | null;
  master_version: string | null;
}

export type OpenedSecret = { ok: true; secret: string; reseal: Sealed | null } | { ok: false; reason: string };

export type BoxResult = { ok: true; box: SecretBox } | { ok: false; reason: string };

/** The isolate's box, or why there is none (a missing or malformed master). */
export async function boxOf(masters: Masters): Promise<BoxResult> {
  try {
    return { ok: true, box: await secretBoxFor(masters) };
  } catch (error) {
    if (error instanceof SecretBoxError) return { ok: false, reason: error.message };
    throw error;
  }
}

export function sealSecret(box: SecretBox, endpointId: string, secret: string): Promise<Sealed> {
  return box.seal(secret, endpointId);
}

/**
 * The plaintext to sign with, and the sealed value to store in its place when the row is
 * legacy plaintext or sealed under the previous master. Without a usable master a legacy row
 * still opens (its plaintext is already in D1; refusing would only break delivery) and a
 * sealed one does not.
 */
export async function openSecret(masters: Masters, endpointId: string, stored: StoredSecret): Promise<OpenedSecret> {
  const boxed = await boxOf(masters);
  if (stored.sealed !== null && stored.master_version !== null) {
    if (!boxed.ok) return { ok: false, reason: `signing secret not opened: ${boxed.reason}` };
    const secret = await boxed.box.open({ sealed: stored.sealed, version: stored.master_version }, endpointId);
    if (secret === null) {
      return { ok: false, reason: 'signing secret not opened: sealed under a master key that is neither SECRETS_MASTER_KEY nor SECRETS_MASTER_KEY_PREVIOUS, or altered' };
    }
    const reseal = stored.master_version === boxed.box.version ? null : await sealSecret(boxed.box, endpointId, secret);
    return { ok: true, secret, reseal };
  }
  if (stored.plaintext !== null) {
    return { ok: true, secret: stored.plaintext, reseal: boxed.ok ? await sealSecret(boxed.box, endpointId, stored.plaintext) : null };
  }
  return { ok: false, reason: 'no signing secret stored' };
}

export type SweepResult = { ok: true; resealed: number } | { ok: false; plaintext: number; reason: string };

/**
 * The cron's sweep: seals up to `limit` legacy plaintext secrets and re-seals those sealed
 * under the previous master, so endpoints that get no events converge too. Without a usable
 * master it seals nothing and says how many plaintext secrets remain.
 */
export async function resealStoredSecrets(repo: WebhookRepository, masters: Masters, limit = 100): Promise<SweepResult> {
  const boxed = await boxOf(masters);
  if (!boxed.ok) return { ok: false, plaintext: await repo.plaintextSecrets(), reason: boxed.reason };
  let resealed = 0;
  for (const row of await repo.secretsToReseal(boxed.box.previousVersion, limit)) {
    const opened = await openSecret(masters, row.id, row);
    if (opened.ok && opened.reseal && (await repo.reseal(row.id, row, opened.reseal))) resealed++;
  }
  return { ok: true, resealed };
}
