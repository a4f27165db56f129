// The one rule that finds a client's model in PRICES and model_limits
// (src/limits/model-match.ts), as properties over client-controlled model names, plus the
// config schema's check of configured names.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import type { Limits, Price } from '../../src/config/schema';
import type { KeyRecord } from '../../src/keys/record';
import { ModelTable, modelKeyProblem, normaliseModel } from '../../src/limits/model-match';
import { countersForRequest, effectivePolicy, priceFor, reservationCostMicros } from '../../src/limits/policy';
import { clientModel } from './model-names';

const DEFAULT: Price = { input: 10, output: 30 };
const PRICES = new ModelTable<Price>([
  ['gpt-4o', { input: 2.5, output: 10 }],
  ['gpt-4o*', { input: 3, output: 12 }],
  ['gpt-4o-mini*', { input: 0.15, output: 0.6 }],
  ['claude-3-5-haiku', { input: 0.8, output: 4 }],
]);

function keyWith(model_limits: Record<string, Limits>, limits: Limits = {}): KeyRecord {
  return { id: 'key_test', policy: { model_limits, limits } } as unknown as KeyRecord;
}

describe('model names find their PRICES and model_limits entry by one rule', () => {
  it('never resolves a client model name to anything but a configured price or the default', () => {
    fc.assert(
      fc.property(clientModel, fc.integer({ min: 0, max: 2 ** 40 }), (model, tokens) => {
        const price = priceFor(PRICES, DEFAULT, model);
        expect(Object.getPrototypeOf(price)).toBe(Object.prototype);
        expect(Number.isFinite(price.input) && Number.isFinite(price.output)).toBe(true);
        expect(Number.isSafeInteger(reservationCostMicros(price, tokens))).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('builds only finite integer counters named after configured names, whatever the model', () => {
    const policy = effectivePolicy({ limits: { rpm: 10 }, model_limits: { 'gpt-4o*': { rpm: 2, tpm: 100 } } }, keyWith({ o1: { rpd: 5 } }));
    fc.assert(
      fc.property(clientModel, fc.integer({ min: 0, max: 1_000_000 }), (model, reservation) => {
        const counters = countersForRequest(policy, model, reservation);
        for (const c of counters) {
          expect(Number.isSafeInteger(c.limit) && Number.isSafeInteger(c.cost) && Number.isSafeInteger(c.windowMs)).toBe(true);
          expect(['rpm', 'model:gpt-4o*:rpm', 'model:gpt-4o*:tpm', 'model:o1:rpd']).toContain(c.name);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('matches a name whatever its case and surrounding spaces', () => {
    fc.assert(
      fc.property(fc.constantFrom('gpt-4o', 'claude-3-5-haiku'), fc.array(fc.boolean(), { maxLength: 20 }), fc.constantFrom('', ' ', '\t', '\n '), (name, upper, pad) => {
        const mixed = [...name].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join('');
        expect(PRICES.match(`${pad}${mixed}${pad}`)?.key).toBe(name);
      }),
    );
  });

  it('lets an exact name beat every family and the longest family beat shorter ones', () => {
    expect(PRICES.match('gpt-4o')?.key).toBe('gpt-4o');
    expect(PRICES.match('gpt-4o-2024-08-06')?.key).toBe('gpt-4o*');
    expect(PRICES.match('GPT-4o-mini-2024-07-18')?.key).toBe('gpt-4o-mini*');
    expect(PRICES.match('gpt-4')).toBeUndefined();
    fc.assert(
      fc.property(fc.string(), (suffix) => {
        const m = PRICES.match(`gpt-4o${suffix}`);
        const name = normaliseModel(`gpt-4o${suffix}`);
        if (name === 'gpt-4o') expect(m?.key).toBe('gpt-4o');
        else if (name.startsWith('gpt-4o-mini')) expect(m?.key).toBe('gpt-4o-mini*');
        else if (name.startsWith('gpt-4o')) expect(m?.key).toBe('gpt-4o*');
        else expect(m).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
  });

  it('lets a lone "*" cover every model that nothing longer covers', () => {
    const table = new ModelTable([['*', 1], ['o1*', 2]]);
    fc.assert(
      fc.property(clientModel, (model) => {
        expect(table.match(model)?.value).toBe(normaliseModel(model).startsWith('o1') ? 2 : 1);
      }),
    );
  });

  it('merges route and key model_limits by configured name, the key winning per field, and matches the merged names', () => {
    const policy = effectivePolicy(
      { model_limits: { 'gpt-4o*': { rpm: 5, tpm: 1000 }, __proto__: { rpm: 1 } } as Record<string, Limits> },
      keyWith({ 'gpt-4o*': { rpm: 2 }, constructor: { rpd: 3 } }),
    );
    expect(countersForRequest(policy, 'gpt-4o-2024-08-06', 10).map((c) => [c.name, c.limit])).toEqual([
      ['model:gpt-4o*:rpm', 2],
      ['model:gpt-4o*:tpm', 1000],
    ]);
    // Configured prototype names are ordinary names: only the exact client string reaches them.
    expect(countersForRequest(policy, 'Constructor', 1).map((c) => c.name)).toEqual(['model:constructor:rpd']);
    expect(countersForRequest(policy, 'toString', 1)).toEqual([]);
  });
});

describe('configured model names', () => {
  const config = (PRICES: unknown, model_limits?: unknown) =>
    parseConfig({ PRICES, ROUTES: [{ path: '/llm', upstream: 'https://example.com', ...(model_limits ? { model_limits } : {}) }] });

  it('accepts normalised names and families with one trailing "*"', () => {
    const parsed = config({ 'gpt-4o': { input: 1, output: 2 }, 'gpt-4o*': { input: 1, output: 2 }, '*': { input: 5, output: 5 } }, { 'claude-*': { rpm: 1 } });
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.config.prices.match('GPT-4O-2024-08-06')?.key).toBe('gpt-4o*');
  });

  it.each([
    ['GPT-4o', 'must be lower-case'],
    [' gpt-4o', 'must be lower-case'],
    ['gpt-*-mini', 'only at the end'],
    ['gpt-4o**', 'only at the end'],
    ['', 'must be 1-200 characters'],
  ])('refuses %j in PRICES and in model_limits, naming the problem', (name, problem) => {
    const prices = config({ [name]: { input: 1, output: 1 } });
    expect(prices.ok).toBe(false);
    if (!prices.ok) expect(prices.message).toContain(problem);
    const limits = config({}, { [name]: { rpm: 1 } });
    expect(limits.ok).toBe(false);
    if (!limits.ok) expect(limits.message).toMatch(/^ROUTES\[0\]\.model_limits/);
  });

  it('agrees with the table: every name the schema accepts is its own normal form', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        if (modelKeyProblem(name) === null) expect(normaliseModel(name)).toBe(name);
      }),
      { numRuns: 1_000 },
    );
  });
});
