// Model names a hostile client may send, for property tests of the model-name rule.

import fc from 'fast-check';

export const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'prototype'];

/** Client model names: prototype members (in any case and padding), real-looking names, anything. */
export const clientModel = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.constantFrom(...PROTOTYPE_NAMES).map((n) => ` ${n.toUpperCase()} `),
  fc.constantFrom('gpt-4o', 'GPT-4o', ' gpt-4o ', 'gpt-4o-2024-08-06', 'gpt-4o-mini', 'claude-3-5-haiku', 'o1', '*', ''),
  fc.string(),
  fc.string({ unit: 'grapheme' }),
);

