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

function firstReply(body: unknown): PipelineReply | undefined {
  if (!Array.isArray(body)) throw new Error('Command failed: the /pipeline response is not an array');
  return body[0] as PipelineReply | undefined;
}

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

  /** The script as the only command of one /pipeline request; EVAL when Redis lacks it. */
  async runAlone<T>(redis: AdmissionRedis, keys: string[], args: string[]): Promise<T> {
    if (!this.sha1) await this.ready;
    const reply = firstReply(await redis.pipelineRequest([['evalsha', this.sha1, keys.length, ...keys, ...args]]));
    if (!reply?.error) return reply?.result as T;
    if (!reply.error.toLowerCase().includes('noscript')) throw new Error(`Command failed: ${reply.error}`);
    const evaluated = firstReply(await redis.pipelineRequest([['eval', this.source, keys.length, ...keys, ...args]]));
    if (evaluated?.error) throw new Error(`Command failed: ${evaluated.error}`);
    return evaluated?.result as T;
  }
}
