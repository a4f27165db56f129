// The one charge rule (src/usage/charge.ts) over any plan and any reading an upstream could
// cause: never negative, never unsafe, never below the full reservation without a final report.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admittedTokens, chargeFor } from '../../src/usage/charge';
import { MAX_TOKENS } from '../../src/usage/fields';

const count = fc.oneof(fc.nat(), fc.integer({ min: -1e12, max: 1e12 }), fc.double(), fc.constantFrom(Number.MAX_SAFE_INTEGER, Infinity, -Infinity, NaN));
const plan = fc.record({ input: fc.nat({ max: MAX_TOKENS }), admitOutput: fc.nat({ max: MAX_TOKENS }), fullOutput: fc.nat({ max: MAX_TOKENS }) });
const reading = fc.record({ usage: fc.option(fc.record({ input: count, output: count }), { nil: null }), complete: fc.boolean(), streamed: count });

describe('what a metered request is charged', () => {
  it('is a pair of safe non-negative integers, at most MAX_TOKENS each, whatever was read', () => {
    fc.assert(
      fc.property(plan, reading, (p, r) => {
        const c = chargeFor(p, r);
        for (const v of [c.input, c.output]) expect(Number.isSafeInteger(v) && v >= 0 && v <= MAX_TOKENS).toBe(true);
        expect(Number.isSafeInteger(admittedTokens(p))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('without a final usage report, is never less than the full output allowance nor the text streamed', () => {
    fc.assert(
      fc.property(plan, fc.nat({ max: MAX_TOKENS }), (p, streamed) => {
        const c = chargeFor(p, { usage: null, complete: false, streamed });
        expect(c.input).toBe(p.input);
        expect(c.output).toBe(Math.max(p.fullOutput, streamed));
      }),
    );
  });

  it('with a final report, is exactly that report', () => {
    expect(chargeFor({ input: 5, admitOutput: 100, fullOutput: 4000 }, { usage: { input: 7, output: 3 }, complete: true, streamed: 900 })).toEqual({ input: 7, output: 3 });
  });
});
