// The one rule for "this request needs the store only for the revocation marker"
// (onlyTheMarker), checked against what planAdmission actually asks the store, over
// generated policies: the gateway may skip the store call exactly when nothing is counted.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { onlyTheMarker, planAdmission, type OwnerLimits } from '../../src/limits/admission';
import { ModelTable } from '../../src/limits/model-match';
import { effectivePolicy, ownerPolicy } from '../../src/limits/policy';
import type { KeyRecord } from '../../src/keys/record';

const baseKey: KeyRecord = {
  id: 'key_01KARMARKERONLYTEST0000000',
  digest: 'd',
  prefix: 'kg_live',
  start: 'aaaa',
  end: 'bbbb',
  name: '',
  description: '',
  owner: null,
  type: 'user',
  scopes: ['read'],
  tags: [],
  metadata: {},
  allowed_ips: [],
  allowed_referers: [],
  policy: {},
  expires_at: null,
  is_active: true,
  revoked_at: null,
  revoked_reason: null,
  last_used_at: null,
  created_at: 0,
  updated_at: 0,
  rotated_to: null,
};

const config = { prices: new ModelTable<{ input: number; output: number }>([]), DEFAULT_PRICE: { input: 1, output: 1 } };

describe('onlyTheMarker', () => {
  it('is true exactly when planAdmission asks the store for nothing but the marker (property)', () => {
    const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    fc.assert(
      fc.property(
        fc.boolean(),
        maybe(fc.record({ rpm: fc.nat(100) }, { requiredKeys: [] })),
        maybe(fc.record({ usd: fc.nat(10), period: fc.constantFrom('day' as const, 'month' as const, 'total' as const) })),
        maybe(fc.record({ remaining: fc.nat(10) })),
        maybe(fc.integer({ min: 1, max: 5 })),
        maybe(fc.record({ rpm: fc.nat(100) })),
        maybe(fc.record({ rpm: fc.nat(100) }, { requiredKeys: [] })),
        maybe(fc.record({ id: fc.string({ minLength: 1, maxLength: 64 }), expiresAt: fc.nat() })),
        (instant, keyLimits, budget, credits, maxConcurrent, ownerLimits, routeLimits, replay) => {
          const key: KeyRecord = { ...baseKey, policy: { ...(keyLimits ? { limits: keyLimits } : {}), ...(budget ? { budget } : {}), ...(credits ? { credits } : {}), ...(maxConcurrent ? { max_concurrent: maxConcurrent } : {}) } };
          const route = { instant_revocation: instant, limits: routeLimits };
          const policy = effectivePolicy(route, key);
          const owner: OwnerLimits | null = ownerLimits ? { id: 'o', policy: ownerPolicy({ limits: ownerLimits }) } : null;
          const plan = planAdmission(route, key, policy, config, null, undefined, Date.now(), owner, replay);
          const markerOnlyPlan =
            plan !== null && plan.ok && plan.input.counters.length === 0 && !plan.input.budget && !plan.input.owner && !plan.input.credits && !plan.input.lease && !plan.input.replay;
          expect(onlyTheMarker(route, key, policy, owner, replay)).toBe(markerOnlyPlan);
        },
      ),
    );
  });
});
