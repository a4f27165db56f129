// Owner names are admin strings that become store names: a Redis hash tag (Upstash) and a
// Durable Object name. Any two owners must stay apart, and no name may break the slot.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ownerShard } from '../../src/limits/durable-object-store';
import { ownerTag } from '../../src/limits/upstash-scripts';

/** Redis cluster's rule: the hash tag is what lies between the first `{` and the next `}`. */
function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open === -1) return null;
  const close = key.indexOf('}', open + 1);
  return close === -1 || close === open + 1 ? null : key.slice(open + 1, close);
}

describe('owner names in the stores', () => {
  it('every key of one owner shares one hash slot tag, whatever its name (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), fc.string({ maxLength: 40 }), (owner, counter) => {
        const tag = ownerTag(owner);
        const expected = hashTag(tag);
        expect(expected).not.toBeNull();
        for (const key of [`kg:rl:${counter.replace(/[{}]/g, '')}:${tag}:123`, `kg:budget:${tag}:2026-11`, `kg:revoked:${tag}:key_X`, `kg:lease:${tag}`]) {
          expect(hashTag(key)).toBe(expected);
        }
      }),
    );
  });

  it('distinct owners get distinct tags and shards, and no shard is a key id (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), fc.string({ maxLength: 200, unit: 'binary' }), (a, b) => {
        fc.pre(a !== b);
        expect(ownerTag(a)).not.toBe(ownerTag(b));
        expect(ownerShard(a)).not.toBe(ownerShard(b));
        expect(ownerShard(a).startsWith('key_')).toBe(false);
      }),
    );
  });
});
