// The admission batch's Redis plumbing on its own, against a /pipeline endpoint the test plays:
// each command's answer stays its own, whatever happens to the other commands of its request.

import { describe, expect, it } from 'vitest';
import { LuaScript, type AdmissionRedis } from '../../src/limits/upstash-client';

type Command = (string | number)[];

/** A client whose /pipeline requests the test answers, one function per request in order. */
function scriptedRedis(answers: ((commands: Command[]) => unknown)[]) {
  const requests: Command[][] = [];
  const redis = {
    pipelineRequest(commands: Command[]) {
      requests.push(commands);
      const answer = answers[requests.length - 1];
      if (!answer) return Promise.reject(new Error('no answer scripted'));
      try {
        return Promise.resolve(answer(commands));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  } as unknown as AdmissionRedis;
  return { redis, requests };
}

const runs = [1, 2, 3].map((i) => ({ keys: [`k${i}`], args: [String(i)] }));

describe('a batch of script runs in one /pipeline request', () => {
  it('runs again as EVAL only the commands Redis lacked the script for', async () => {
    const script = new LuaScript('return 1');
    const { redis, requests } = scriptedRedis([() => [{ result: 'one' }, { error: 'NOSCRIPT No matching script.' }, { result: 'three' }], () => [{ result: 'two' }]]);
    const answers = await script.runEach<string>(redis, runs);
    expect(answers).toEqual([
      { ok: true, value: 'one' },
      { ok: true, value: 'two' },
      { ok: true, value: 'three' },
    ]);
    expect(requests[1]!.map((c) => c[0])).toEqual(['eval']);
  });

  it('keeps the answers of commands that ran when the EVAL retry of the others fails', async () => {
    // The EVALSHAs that ran have committed: answering them with the retry's error would refuse
    // (or fail open) requests the store has already counted, with nothing to undo it.
    const script = new LuaScript('return 1');
    const { redis } = scriptedRedis([
      () => [{ result: 'one' }, { error: 'NOSCRIPT No matching script.' }, { result: 'three' }],
      () => {
        throw new Error('fetch failed');
      },
    ]);
    const answers = await script.runEach<string>(redis, runs);
    expect(answers[0]).toEqual({ ok: true, value: 'one' });
    expect(answers[1]).toMatchObject({ ok: false, error: { message: 'fetch failed' } });
    expect(answers[2]).toEqual({ ok: true, value: 'three' });
  });

  it('answers a retry that replies to the wrong number of commands on the retried commands only', async () => {
    const script = new LuaScript('return 1');
    const { redis } = scriptedRedis([() => [{ error: 'NOSCRIPT No matching script.' }, { result: 'two' }, { error: 'NOSCRIPT No matching script.' }], () => [{ result: 'one' }]]);
    const answers = await script.runEach<string>(redis, runs);
    expect(answers[0]!.ok).toBe(false);
    expect(answers[1]).toEqual({ ok: true, value: 'two' });
    expect(answers[2]!.ok).toBe(false);
  });

  it('fails the whole batch when the first request fails or answers the wrong number of commands', async () => {
    const script = new LuaScript('return 1');
    await expect(script.runEach(scriptedRedis([() => [{ result: 1 }]]).redis, runs)).rejects.toThrow(/does not answer every command/);
    await expect(
      script.runEach(
        scriptedRedis([
          () => {
            throw new Error('fetch failed');
          },
        ]).redis,
        runs,
      ),
    ).rejects.toThrow('fetch failed');
  });
});
