// A signed request from token to key record: the token is verified against the signing
// secret of the key it names (signed-request.ts), then the key record is checked exactly as
// for a presented key (verifyDigest: lookup, access rules). The token id is handed back for
// the admission, which refuses it a second time in the same store call as the limits.

import type { AccessRequest } from '../access/access';
import type { Env } from '../env';
import { verifyDigest, type VerifyDeps, type VerifyFailure } from '../keys/verify';
import type { KeyRecord } from '../keys/record';
import type { LookupSource } from '../keys/key-store';
import { SecretBoxError, secretBoxFor } from '../lib/secret-box';
import { signingKeyFor } from './secret-store';
import { verifySignedToken, type SignedFailure } from './signed-request';

export type SignedRequestResult =
  | { ok: true; key: KeyRecord; source: LookupSource; replay: { id: string; expiresAt: number } }
  | { ok: false; code: VerifyFailure | SignedFailure | 'config_invalid'; key?: KeyRecord; detail?: string };

export async function verifySignedRequest(env: Env, token: string, deps: VerifyDeps, access: AccessRequest): Promise<SignedRequestResult> {
  let box;
  try {
    box = await secretBoxFor(env);
  } catch (error) {
    // Misconfigured masters refuse every signed request, naming the setting (never its value).
    if (error instanceof SecretBoxError) return { ok: false, code: 'config_invalid', detail: `Invalid configuration: ${error.message}` };
    throw error;
  }
  const checked = await verifySignedToken(token, (keyId) => signingKeyFor(env.DB, box, keyId), access.now);
  if (!checked.ok) return checked;
  const result = await verifyDigest(checked.token.digest, deps, access);
  // A key deleted since its secret was cached reads as an invalid signature, not an unknown key.
  // An identified key refused by its access rules is named, so the refusal is a request event.
  if (!result.ok) return result.code === 'invalid_key' ? { ok: false, code: 'invalid_signature' } : { ok: false, code: result.code, key: result.key, detail: result.detail };
  return { ok: true, key: result.key, source: result.source, replay: { id: checked.token.jti, expiresAt: checked.token.replayUntil } };
}
