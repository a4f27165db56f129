// The isolate's open batch of queue messages (src/events/emit.ts): the request that opens it
// sends it from its own waitUntil. If that never happens (its request context torn down
// before its timer fired), later requests must not keep adding their messages to it.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { addToBatch } from '../../src/events/emit';
import type { QueueItem } from '../../src/events/messages';
import { capturingQueue } from './queue';

const use = (i: number): QueueItem => ({ kind: 'use', key_id: `key_${i}`, at: 1_795_334_400_000 + i, via: 'verify' });

describe('the open batch of queue messages', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a batch whose leader never sends stops taking messages: a later request leads a batch of its own', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    const captured = capturingQueue();
    expect(addToBatch(captured.queue, use(1))).not.toBeNull(); // leads
    expect(addToBatch(captured.queue, use(2))).toBeNull(); // joins while the batch gathers
    vi.clearAllTimers(); // the leader's request context is gone: its send never runs
    vi.advanceTimersByTime(5_000);
    const next = addToBatch(captured.queue, use(3));
    expect(next).not.toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    await next;
    expect(captured.sent.map((s) => (s.body.kind === 'use' ? s.body.key_id : ''))).toEqual(['key_3']);
  });

  it('requests within the gathering time share one batch and one send', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    const captured = capturingQueue();
    const leading = addToBatch(captured.queue, use(1));
    vi.advanceTimersByTime(50);
    expect(addToBatch(captured.queue, use(2))).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    await leading;
    expect(captured.calls()).toBe(1);
    expect(captured.sent).toHaveLength(2);
  });
});
