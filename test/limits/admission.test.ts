// The admission rules as plain data (src/limits/admission.ts): what a route's failure policy
// does when the store is down, and what is settled once the response's usage is known.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planAdmission, refusalOf, settlementOf, whenStoreDown, type AdmissionPlan } from '../../src/limits/admission';
import type { AdmitInput } from '../../src/limits/store';
import type { Price } from '../../src/config/schema';
import type { KeyRecord } from '../../src/keys/record';
import { ModelTable } from '../../src/limits/model-match';
import type { EffectivePolicy } from '../../src/limits/policy';

const input = (budgeted: boolean): AdmitInput => ({
  keyId: 'key_a',
  counterId: 'key_a',
  counters: [],
  now: 0,
  budget: budgeted ? { limitMicros: 1, costMicros: 0, period: 'total', periodKey: 'total', resetAt: null } : undefined,
});

const plan = (reservation: number, price = { input: 1, output: 2 }): AdmissionPlan => ({
  ok: true,
  input: input(false),
  plan: { input: reservation, admitOutput: 0, fullOutput: reservation },
  price,
  reservation,
  reservedMicros: 0,
});

describe('admission when the limit store is down', () => {
  it('a route that fails closed for requests refuses every request, budgeted or not', () => {
    for (const budgeted of [false, true]) {
      const refusal = whenStoreDown({ requests: 'closed', budget: 'open' }, input(budgeted));
      expect(refusal?.code).toBe('store_unavailable');
      expect(refusal?.headers?.['retry-after']).toBe('1');
    }
  });

  it('budgets fail closed only for requests that have a budget', () => {
    expect(whenStoreDown({ requests: 'open', budget: 'closed' }, input(true))?.code).toBe('store_unavailable');
    expect(whenStoreDown({ requests: 'open', budget: 'closed' }, input(false))).toBeNull();
    expect(whenStoreDown({ requests: 'open', budget: 'open' }, input(true))).toBeNull();
  });

  it('a signed request fails closed on every route: without the store a replayed token looks fresh', () => {
    for (const budgeted of [false, true]) {
      const refusal = whenStoreDown({ requests: 'open', budget: 'open' }, { ...input(budgeted), replay: { id: 'jti-1', expiresAt: 1 } });
      expect(refusal?.code).toBe('store_unavailable');
      expect(refusal?.headers?.['retry-after']).toBe('1');
    }
  });
});

// planAdmission reads only the key's id, counter id and policy (credits, max_concurrent).
const KEY = { id: 'key_a', policy: {} } as KeyRecord;
const NO_LIMITS: EffectivePolicy = { limits: {}, modelLimits: new ModelTable([]), budget: undefined, models: null };
const CONFIG = { prices: new ModelTable<Price>([]), DEFAULT_PRICE: { input: 1, output: 2 } };

describe('signed requests in the admission', () => {
  it('a signed request asks the store even where no limit applies and the marker is skipped', () => {
    const admission = planAdmission({ instant_revocation: false }, KEY, NO_LIMITS, CONFIG, null, undefined, 0, null, { id: 'jti-1', expiresAt: 1 });
    expect(admission?.ok).toBe(true);
    expect(admission?.ok && admission.input.replay).toEqual({ id: 'jti-1', expiresAt: 1 });
    expect(planAdmission({ instant_revocation: false }, KEY, NO_LIMITS, CONFIG, null, undefined, 0)).toBeNull();
  });

  it('a token id the store has seen is refused as token_replayed', () => {
    expect(refusalOf({ status: 'replayed' }, 0, false).code).toBe('token_replayed');
  });
});

describe('settlement after the response', () => {
  it('an upstream refusal without usage leaves the reservation standing', () => {
    expect(settlementOf(plan(100), { usage: null, complete: false, streamed: 0 }, 429, 1)).toBeNull();
  });

  it('settles exactly the difference between reported and reserved tokens, and nothing when they match', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(100_000), fc.nat(100_000), (reserved, input, output) => {
        const s = settlementOf(plan(reserved), { usage: { input, output }, complete: true, streamed: 0 }, 200, 7);
        const delta = input + output - reserved;
        if (s === null) expect(delta).toBe(0);
        else {
          expect(s.tokenDelta).toBe(delta);
          expect(s.now).toBe(7);
        }
      }),
    );
  });
});
