import { describe, expect, it } from 'vitest';
import { InFlight } from '../../src/lib/in-flight';

describe('reads shared while in flight', () => {
  it('a read that never settles is no longer shared once its TTL ends, and leaves room for others', () => {
    const reads = new InFlight<string, number>(2, 1_000);
    const hung = new Promise<number>(() => {});
    reads.track('a', hung, 0);
    expect(reads.get('a', 999)).toBe(hung);
    expect(reads.get('a', 1_000)).toBeUndefined();
    reads.track('b', hung, 0);
    reads.track('c', hung, 0);
    expect(reads.hasRoom(500)).toBe(false);
    expect(reads.hasRoom(1_000)).toBe(true);
  });

  it('a settled read leaves, but never removes the newer read of the same key', async () => {
    const reads = new InFlight<string, number>(4, 1_000);
    let resolveOld!: (n: number) => void;
    const old = new Promise<number>((r) => (resolveOld = r));
    reads.track('k', old, 0);
    const newer = new Promise<number>(() => {});
    reads.track('k', newer, 2_000);
    resolveOld(1);
    await old;
    await Promise.resolve();
    expect(reads.get('k', 2_001)).toBe(newer);
    const done = Promise.resolve(2);
    reads.track('d', done, 0);
    await done;
    await Promise.resolve();
    expect(reads.get('d', 1)).toBeUndefined();
  });
});
