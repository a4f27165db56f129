// POST /admin/keys/{id}/signing-secret: issues or replaces a key's signing secret (signed
// requests, src/signing/). The secret is in the response only: the audit entry names the
// change, never the value.

import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { GatewayError } from '../errors';
import { auditStatement } from '../keys/audit';
import { SecretBoxError, secretBoxFor, type SecretBox } from '../lib/secret-box';
import { setSigningSecret } from '../signing/secret-store';
import { ADMIN_AUTH_ERRORS, errorResponses, KeyIdParam, SigningSecretSchema } from './schemas';
import { validationError } from './validation';

/** The master-key box, or 500 config_invalid naming the setting (never its value). */
export async function signingBox(c: Context<AppEnv>): Promise<SecretBox> {
  try {
    return await secretBoxFor(c.env);
  } catch (error) {
    if (error instanceof SecretBoxError) throw new GatewayError('config_invalid', `Invalid configuration: ${error.message}`);
    throw error;
  }
}

/** Seals and stores a new secret for the key, with its audit entry in the same batch. */
export async function issueSigningSecret(c: Context<AppEnv>, box: SecretBox, keyId: string): Promise<string> {
  const now = Date.now();
  const entry = auditStatement(c.env.DB, { at: now, actor: c.get('actor'), action: 'signing_secret', key_id: keyId, changes: ['signing_secret'] });
  return setSigningSecret(c.env.DB, box, keyId, now, entry);
}

export const signingApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});

signingApp.openapi(
  createRoute({
    method: 'post',
    path: '/keys/{id}/signing-secret',
    summary: 'Issue or rotate the signing secret of a key (returned once; the previous one stops working)',
    tags: ['keys'],
    request: { params: KeyIdParam },
    responses: {
      200: { content: { 'application/json': { schema: SigningSecretSchema } }, description: 'The new signing secret' },
      ...errorResponses('validation_failed', 'not_found', 'conflict', 'config_invalid', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const box = await signingBox(c);
    const record = await c.get('services').keys.repo.byId(id);
    if (!record) throw new GatewayError('not_found', 'No key with this id.');
    if (record.revoked_at !== null) throw new GatewayError('conflict', 'The key is revoked.');
    const secret = await issueSigningSecret(c, box, id);
    return c.json({ key_id: id, signing_secret: secret }, 200, { 'cache-control': 'no-store' });
  },
);
