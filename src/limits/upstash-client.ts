// The Upstash store's Redis plumbing: a client that sends one /pipeline request of given
// commands (the admission's single round trip), and Lua scripts run by digest with an EVAL
// fallback.

import { Redis } from '@upstash/redis/cloudflare';

/** The SDK's client without auto-pipelining, plus one /pipeline request of given commands. */
export class AdmissionRedis extends Redis {
  /** The response body: an array of replies, one per command (see firstReply). */
  pipelineRequest(commands: (string | number)[][]): Promise<unknown> {
    return this.client.request({ path: ['pipeline'], body: commands });
  }
}

type PipelineReply = { result?: unknown; error?: string };

/** The replies of a /pipeline request of `n` commands; anything else fails the whole request. */
function repliesOf(body: unknown, n: number): PipelineReply[] {
  if (!Array.isArray(body) || body.length !== n) throw new Error('Command failed: the /pipeline response does not answer every command');
  return body.map((r: unknown) => (r !== null && typeof r === 'object' ? (r as PipelineReply) : {}));
}

/** One command's answer in a batch: its result, or the error Redis gave for it alone. */
export type CommandAnswer<T> = { ok: true; value: T } | { ok: false; error: Error };

const answerOf = <T>(r: PipelineReply): CommandAnswer<T> => (r.error === undefined ? { ok: true, value: r.result as T } : { ok: false, error: new Error(`Command failed: ${r.error}`) });

const isNoScript = (error: string | undefined): boolean => error !== undefined && error.toLowerCase().includes('noscript');

/**
 * A Lua script run by its SHA-1 (EVALSHA), falling back to EVAL when Redis answers NOSCRIPT
 * (a new or flushed instance). run() issues its command synchronously once the digest is
 * known, so on the auto-pipelining client it joins the current batch.
 */
export class LuaScript {
  sha1 = '';
  readonly ready: Promise<void>;

  constructor(readonly source: string) {
    this.ready = crypto.subtle.digest('SHA-1', new TextEncoder().encode(source)).then((buf) => {
      this.sha1 = [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
    });
  }

  run<T>(redis: Redis, keys: string[], args: string[]): Promise<T> {
    if (!this.sha1) return this.ready.then(() => this.run<T>(redis, keys, args));
    return redis.evalsha<string[], T>(this.sha1, keys, args).catch((error: unknown) => {
      if (error instanceof Error && error.message.toLowerCase().includes('noscript')) return redis.eval<string[], T>(this.source, keys, args);
      throw error;
    });
  }

  /**
   * The script once per argument set, all in one /pipeline request (a batch of admissions);
   * the runs Redis lacks the script for go again as EVAL in one more request. Each answer is
   * its own: one run's error leaves the others' results, and a failed EVAL request fails only
   * the runs it carried (the others have run and committed: their answers must reach them).
   */
  async runEach<T>(redis: AdmissionRedis, runs: { keys: string[]; args: string[] }[]): Promise<CommandAnswer<T>[]> {
    if (!this.sha1) await this.ready;
    const replies = repliesOf(await redis.pipelineRequest(runs.map((r) => ['evalsha', this.sha1, r.keys.length, ...r.keys, ...r.args])), runs.length);
    const answers = replies.map(answerOf<T>);
    const missing = replies.flatMap((r, i) => (isNoScript(r.error) ? [i] : []));
    if (missing.length > 0) {
      try {
        const evaluated = repliesOf(await redis.pipelineRequest(missing.map((i) => ['eval', this.source, runs[i]!.keys.length, ...runs[i]!.keys, ...runs[i]!.args])), missing.length);
        missing.forEach((at, j) => (answers[at] = answerOf<T>(evaluated[j]!)));
      } catch (error) {
        const failed = error instanceof Error ? error : new Error(String(error));
        for (const at of missing) answers[at] = { ok: false, error: failed };
      }
    }
    return answers;
  }
}
