// Admin API request/response schemas. The same zod schemas validate requests and generate
// the OpenAPI document at /admin/openapi.json.

import { z } from '@hono/zod-openapi';
import { BudgetSchema, CreditsSchema, LimitsSchema, MaxConcurrentSchema, ModelLimitsSchema, ModelsSchema, ScopeName } from '../config/schema';
import { parseCidr } from '../access/cidr';
import { isValidRefererPattern } from '../access/referer';
import { KEY_TYPES } from '../keys/record';
import { ERRORS, type ErrorCode } from '../errors';

export const MAX_METADATA_BYTES = 4096;

const Tag = z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, 'must be 1-64 chars of A-Z a-z 0-9 : . _ -');
// Owner ends up in the x-gateway-owner header: printable ASCII only.
export const Owner = z.string().regex(/^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$/, 'must be 1-200 printable ASCII characters');
const Metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => new TextEncoder().encode(JSON.stringify(m)).length <= MAX_METADATA_BYTES, `must serialise to at most ${MAX_METADATA_BYTES} bytes`);
const Cidr = z.string().refine((s) => parseCidr(s) !== null, 'must be an IPv4 or IPv6 address or CIDR');
const RefererPattern = z.string().toLowerCase().refine(isValidRefererPattern, 'must be a host pattern like example.com, *.example.com or *');
const Timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });

// Expiry bounds: any date a client can mean, and nothing the record's arithmetic (ms since
// epoch, Date, toISOString) cannot hold. KV's 32-bit `expiration` is handled by the key store.
export const MAX_TTL_SECONDS = 100 * 365 * 86_400;
export const MAX_EXPIRES_AT = '9999-12-31T23:59:59.999Z';
// (A string that is no date at all fails the datetime check alone: NaN passes this one.)
const ExpiresAt = Timestamp.refine((s) => !(Date.parse(s) > Date.parse(MAX_EXPIRES_AT)), `must be no later than ${MAX_EXPIRES_AT}`).openapi({
  description: `ISO 8601 date-time, at most ${MAX_EXPIRES_AT}`,
});
const TtlSeconds = z.number().int().positive().max(MAX_TTL_SECONDS, `must be <= ${MAX_TTL_SECONDS} (100 years)`);

const KeyFields = {
  name: z.string().max(200),
  description: z.string().max(2000),
  owner: Owner.nullable(),
  type: z.enum(KEY_TYPES),
  scopes: z.array(ScopeName).max(32),
  tags: z.array(Tag).max(32),
  metadata: Metadata,
  allowed_ips: z.array(Cidr).max(100),
  allowed_referers: z.array(RefererPattern).max(100),
  limits: LimitsSchema.nullable(),
  model_limits: ModelLimitsSchema.nullable(),
  budget: BudgetSchema.nullable(),
  models: ModelsSchema.nullable(),
  credits: CreditsSchema.nullable(),
  max_concurrent: MaxConcurrentSchema.nullable(),
  expires_at: ExpiresAt.nullable(),
};

export const CreateKeyBody = z
  .object({
    name: KeyFields.name.default(''),
    description: KeyFields.description.default(''),
    owner: KeyFields.owner.optional(),
    type: KeyFields.type.default('user'),
    scopes: KeyFields.scopes.default(['read', 'write']),
    tags: KeyFields.tags.default([]),
    metadata: KeyFields.metadata.default({}),
    allowed_ips: KeyFields.allowed_ips.default([]),
    allowed_referers: KeyFields.allowed_referers.default([]),
    limits: KeyFields.limits.optional(),
    model_limits: KeyFields.model_limits.optional(),
    budget: KeyFields.budget.optional(),
    models: KeyFields.models.optional(),
    credits: KeyFields.credits.optional(),
    max_concurrent: KeyFields.max_concurrent.optional(),
    expires_at: KeyFields.expires_at.optional(),
    ttl_seconds: TtlSeconds.optional(),
    prefix: z.string().optional(),
    replace_existing: z.boolean().default(false),
    signing_secret: z.boolean().default(false).openapi({ description: 'Also issue a signing secret for signed requests (Authorization: JWT); returned once as signing_secret.' }),
  })
  .strict()
  .refine((b) => !(b.expires_at && b.ttl_seconds), { message: 'give expires_at or ttl_seconds, not both', path: ['ttl_seconds'] })
  .openapi('CreateKey');
export type CreateKeyBody = z.infer<typeof CreateKeyBody>;

export const IMMUTABLE_FIELDS = ['id', 'prefix', 'start', 'end', 'display', 'digest', 'key', 'created_at', 'updated_at', 'revoked_at', 'revoked_reason', 'last_used_at', 'status', 'is_active', 'rotated_to'] as const;

export const UpdateKeyBody = z
  .object(Object.fromEntries(Object.entries(KeyFields).map(([k, v]) => [k, v.optional()])) as { [K in keyof typeof KeyFields]: z.ZodOptional<(typeof KeyFields)[K]> })
  .strict()
  .openapi('UpdateKey');
export type UpdateKeyBody = z.infer<typeof UpdateKeyBody>;

export const RevokeBody = z.object({ reason: z.string().min(1).max(500) }).strict().openapi('RevokeKey');
export const ExtendBody = z
  .object({ expires_at: ExpiresAt.nullable().optional(), ttl_seconds: TtlSeconds.optional() })
  .strict()
  .refine((b) => (b.expires_at !== undefined) !== (b.ttl_seconds !== undefined), { message: 'give exactly one of expires_at or ttl_seconds', path: ['expires_at'] })
  .openapi('ExtendKey');
export const RotateBody = z.object({ grace_seconds: z.number().int().min(0).max(30 * 86400).default(0) }).strict().openapi('RotateKey');
export const FindBody = z
  .object({ key: z.string().min(1).max(256).optional(), start: z.string().length(4).optional(), end: z.string().length(4).optional() })
  .strict()
  .refine((b) => b.key !== undefined || b.start !== undefined || b.end !== undefined, { message: 'give key, or start and/or end', path: ['key'] })
  .openapi('FindKey');
export const VerifyBody = z
  .object({ key: z.string().min(1).max(256), scopes: z.array(ScopeName).max(32).optional(), consume: z.boolean().default(false) })
  .strict()
  .openapi('VerifyKey');

export const ListQuery = z.object({
  owner: z.string().optional(),
  tag: z.string().optional(),
  type: z.enum(KEY_TYPES).optional(),
  status: z.enum(['active', 'inactive', 'revoked', 'expired']).optional(),
  q: z.string().max(200).optional(),
  cursor: z.string().regex(/^key_[0-9A-Z]{26}$/, 'must be a cursor returned by a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export const KeyIdParam = z.object({ id: z.string().regex(/^key_[0-9A-Z]{26}$/, 'must be a key id').openapi({ param: { name: 'id', in: 'path' } }) });

export const KeySchema = z
  .object({
    id: z.string(),
    display: z.string(),
    prefix: z.string(),
    start: z.string(),
    end: z.string(),
    name: z.string(),
    description: z.string(),
    owner: z.string().nullable(),
    type: z.enum(KEY_TYPES),
    scopes: z.array(z.string()),
    tags: z.array(z.string()),
    metadata: z.record(z.string(), z.unknown()),
    allowed_ips: z.array(z.string()),
    allowed_referers: z.array(z.string()),
    limits: LimitsSchema.nullable(),
    model_limits: ModelLimitsSchema.nullable(),
    budget: BudgetSchema.nullable(),
    models: z.array(z.string()),
    credits: CreditsSchema.nullable(),
    max_concurrent: z.number().nullable(),
    status: z.enum(['active', 'inactive', 'revoked', 'expired']),
    is_active: z.boolean(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    revoked_reason: z.string().nullable(),
    last_used_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    rotated_to: z.string().nullable(),
  })
  .openapi('Key');

const Marker = z
  .literal('pending')
  .optional()
  .describe('Present only when the change is committed but its KV snapshot or revocation marker is not written yet: keygate retries them (after every admin call and from the cron) and the audit log has a marker_pending entry.');
export const ChangedKeySchema = KeySchema.extend({ marker: Marker }).openapi('ChangedKey');
export const CreatedKeySchema = ChangedKeySchema.extend({
  key: z.string().describe('The plaintext key. Shown once; store it now.'),
  signing_secret: z.string().optional().describe('With "signing_secret": true, or when rotating a key that has one: the (new) key\'s signing secret for signed requests. Shown once; store it now.'),
}).openapi('CreatedKey');
export const SigningSecretSchema = z
  .object({ key_id: z.string(), signing_secret: z.string().describe('The new signing secret. Shown once; the previous one stops working.') })
  .openapi('SigningSecret');
export const DeletedKeySchema = z.object({ id: z.string(), deleted: z.literal(true), marker: Marker }).openapi('DeletedKey');
export const KeyListSchema = z.object({ keys: z.array(KeySchema), next_cursor: z.string().nullable() }).openapi('KeyList');

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      request_id: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

/**
 * What admin authentication (http/admin-auth.ts) can answer on any /admin operation: no or a
 * wrong credential, a viewer's write or a key without the admin scope, an admin key that is
 * revoked, expired or deactivated, an address throttled after failed attempts, and a store or
 * identity provider that cannot be reached to check the credential.
 */
export const ADMIN_AUTH_ERRORS = ['unauthorized', 'forbidden', 'key_revoked', 'key_expired', 'key_inactive', 'rate_limited', 'store_unavailable'] as const satisfies readonly ErrorCode[];

/** An OpenAPI request body of this JSON schema. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
/** An OpenAPI response of this JSON schema. */
export const ok = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });

/** OpenAPI `responses` entries for error codes, generated from the one error table. */
export function errorResponses(...codes: ErrorCode[]) {
  const out: Record<number, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }> = {};
  for (const code of new Set(codes)) {
    const { status } = ERRORS[code];
    const prev = out[status];
    out[status] = {
      description: prev ? `${prev.description}, ${code}` : code,
      content: { 'application/json': { schema: ErrorSchema } },
    };
  }
  return out;
}
