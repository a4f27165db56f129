// POST /admin/verify: key verification for services that do not sit behind keygate
// (what Unkey's verifyKey offers). Answers 200 with valid + code for every well-formed
// request; the codes are the gateway's own.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../context';
import { ERRORS, type ErrorCode } from '../errors';
import { emitUse } from '../events/request-event';
import { counterIdOf, presentKey } from '../keys/record';
import { presentUsage, readUsageGuarded, usagePlan } from '../limits/usage-view';
import { verifyPresentedKey } from '../http/key-auth';
import { countersForUsage, ownerPolicy } from '../limits/policy';
import { ownerHasLimits } from '../owners/record';
import { ADMIN_AUTH_ERRORS, errorResponses, KeySchema, VerifyBody } from './schemas';
import { validationError } from './validation';

export const verifyApp = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error, result.target);
  },
});

const VerifyResult = z
  .object({
    valid: z.boolean(),
    code: z.union([z.literal('valid'), z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]])]),
    key: KeySchema.nullable(),
    usage: z.unknown().nullable(),
  })
  .openapi('VerifyResult');

verifyApp.openapi(
  createRoute({
    method: 'post',
    path: '/verify',
    summary: 'Verify a key (format, lookup, status, scopes, limits) without proxying',
    tags: ['verify'],
    request: { body: { content: { 'application/json': { schema: VerifyBody } }, required: true } },
    responses: {
      200: { description: 'The verification result', content: { 'application/json': { schema: VerifyResult } } },
      ...errorResponses('validation_failed', ...ADMIN_AUTH_ERRORS),
    },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const services = c.get('services');
    const config = c.get('config');
    // Without consume the marker is read on its own; with consume the admission reads it.
    const result = await verifyPresentedKey(
      c,
      body.key,
      // IP and referer rules belong to the caller's own client request, which we do not see.
      { now: Date.now(), ip: null, referer: null, requiredScopes: body.scopes ?? [], skipNetworkRules: true },
      { marker: !body.consume },
    );
    if (!result.ok) {
      return c.json({ valid: false, code: result.code, key: result.key ? presentKey(result.key) : null, usage: null }, 200);
    }
    const key = result.key;
    emitUse(c, key.id, 'verify');
    const now = Date.now();
    if (body.consume) {
      const plan = usagePlan(config, key);
      const counters = plan.counters.filter((x) => x.kind === 'requests').map((x) => ({ ...x, cost: 1 }));
      // A key whose owner has limits is counted in its owner's shard, against the owner's request windows too.
      const owner = key.owner === null ? null : await services.owners.lookup(key.owner);
      const ownerPart =
        owner !== null && ownerHasLimits(owner.policy)
          ? { id: owner.owner, counters: countersForUsage(ownerPolicy(owner.policy)).filter((x) => x.kind === 'requests').map((x) => ({ ...x, cost: 1 })) }
          : undefined;
      const input = { keyId: key.id, counterId: counterIdOf(key), counters, now, ...(ownerPart ? { owner: ownerPart } : {}) };
      const guarded = await services.guard.run('admit', services.timeouts.admit, () => services.limits.admit(input));
      if (!guarded.ok) return c.json({ valid: false, code: 'store_unavailable' as const, key: presentKey(key), usage: null }, 200);
      const o = guarded.value;
      if (o.status === 'blocked') {
        return o.reason === 'invalid_key'
          ? c.json({ valid: false, code: 'invalid_key' as const, key: null, usage: null }, 200)
          : c.json({ valid: false, code: o.reason, key: presentKey(key), usage: null }, 200);
      }
      if (o.status === 'credits_exhausted' || o.status === 'too_many_concurrent_requests') return c.json({ valid: false, code: o.status, key: presentKey(key), usage: null }, 200);
      // (No token id is sent from here, so `replayed` cannot occur.)
      if (o.status === 'replayed') return c.json({ valid: false, code: 'internal_error' as const, key: presentKey(key), usage: null }, 200);
      if (o.status !== 'admitted') {
        return c.json({ valid: false, code: o.status, key: presentKey(key), usage: presentUsage(key.id, services.limits.kind, { counters: o.counters, budget: o.budget }) }, 200);
      }
    }
    const usage = await readUsageGuarded(services, config, key, now);
    return c.json({ valid: true, code: 'valid' as const, key: presentKey(key), usage }, 200);
  },
);
