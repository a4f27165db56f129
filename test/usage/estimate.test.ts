import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MeteringSchema } from '../../src/config/schema';
import { chargeFor } from '../../src/usage/charge';
import { modelOf } from '../../src/usage/estimate';
import { MAX_TOKENS } from '../../src/usage/fields';
import { FORMATS } from '../../src/usage/formats';
import { meteredEndpoint, prepareRequest } from '../../src/usage/request';

const metering = (fields: Record<string, unknown> = {}) => MeteringSchema.parse({ default_reservation: 50, max_reservation: 4000, ...fields });

/** The plan for a POST of `body` to `path` on a route metered with `fields`. */
function plan(path: string, body: unknown, fields: Record<string, unknown> = {}) {
  const m = metering(fields);
  const endpoint = meteredEndpoint(m, 'POST', path);
  if (!endpoint.ok) throw new Error(endpoint.code);
  const prepared = prepareRequest(m, endpoint, typeof body === 'string' ? body : JSON.stringify(body));
  if (!prepared.ok) throw new Error(prepared.code);
  return prepared.request;
}

const admitted = (p: { input: number; admitOutput: number }) => p.input + p.admitOutput;
const full = (p: { input: number; fullOutput: number }) => p.input + p.fullOutput;

describe('reservation before forwarding', () => {
  it('reserves the OpenAI max_tokens plus the estimated input', () => {
    // 'Hello there' = 11 characters, 'Hi' = 2: ceil(13 / 4) = 4, plus 3 per message.
    const body = { model: 'gpt-x', max_tokens: 100, messages: [{ role: 'system', content: 'Hello there' }, { role: 'user', content: 'Hi' }] };
    const r = plan('/v1/chat/completions', body);
    expect(r.format?.name).toBe('openai-chat');
    expect(admitted(r.plan)).toBe(100 + 4 + 6);
    expect(full(r.plan)).toBe(100 + 4 + 6);
  });

  it('reserves max_completion_tokens, the larger cap when both are given, times n', () => {
    const messages = [{ role: 'user', content: 'abcd' }];
    expect(admitted(plan('/v1/chat/completions', { messages, max_completion_tokens: 64 }).plan)).toBe(64 + 1 + 3);
    expect(admitted(plan('/v1/chat/completions', { messages, max_tokens: 10, max_completion_tokens: 64 }).plan)).toBe(64 + 1 + 3);
    expect(admitted(plan('/v1/chat/completions', { messages, max_tokens: 10, n: 8 }).plan)).toBe(80 + 1 + 3);
    // A lax upstream reads "100" as 100: so does the reservation.
    expect(admitted(plan('/v1/chat/completions', { messages, max_tokens: '100', n: '2' }).plan)).toBe(200 + 1 + 3);
  });

  it('counts Anthropic content blocks and the top-level system prompt', () => {
    const body = {
      model: 'claude-x', max_tokens: 1024, system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Grüße, 世界 🌍' }, { type: 'image', source: { data: 'QUJD' } }] }],
    };
    // 'Be brief.' = 9 and 'Grüße, 世界 🌍' = 11 code points (12 UTF-16 units): ceil(20 / 4) = 5, plus 3 × 2 messages.
    const r = plan('/v1/messages', body);
    expect(r.format?.name).toBe('anthropic-messages');
    expect(admitted(r.plan)).toBe(1024 + 5 + 6);
  });

  it('admits default_reservation but charges max_reservation x n when the request sets no cap and usage is unreadable', () => {
    const r = plan('/v1/chat/completions', { messages: [{ role: 'user', content: 'abcdefgh' }], n: 3 });
    expect(admitted(r.plan)).toBe(50 + 2 + 3);
    expect(full(r.plan)).toBe(3 * 4000 + 2 + 3);
    expect(chargeFor(r.plan, { usage: null, complete: false, streamed: 0 })).toEqual({ input: 5, output: 12_000 });
  });

  it('reserves a Responses request by max_output_tokens over its input and instructions', () => {
    const r = plan('/v1/responses', { model: 'gpt-x', instructions: 'Be brief.', input: [{ role: 'user', content: [{ type: 'input_text', text: 'abcdefg' }] }], max_output_tokens: 300 });
    expect(r.format?.name).toBe('openai-responses');
    // 9 + 7 = 16 characters = 4 tokens, plus 3 for the one input item.
    expect(admitted(r.plan)).toBe(300 + 4 + 3);
  });

  it('reserves legacy completions by the API default of 16 tokens, times best_of', () => {
    const r = plan('/v1/completions', { prompt: 'x'.repeat(40), best_of: 4, n: 2 });
    expect(r.format?.name).toBe('openai-completions');
    expect(admitted(r.plan)).toBe(16 * 4 + 10);
    expect(admitted(plan('/v1/completions', { prompt: [[1, 2, 3], [4, 5]], max_tokens: 7 }).plan)).toBe(7 + 5);
  });

  it('reserves embeddings by their input only', () => {
    const r = plan('/v1/embeddings', { model: 'text-embedding-3-small', input: ['abcd', 'efgh'] });
    expect(r.format?.name).toBe('openai-embeddings');
    expect(r.plan).toEqual({ input: 2, admitOutput: 0, fullOutput: 0 });
  });

  it('admits and keeps an Anthropic batch at the sum of what its requests may cost', () => {
    const one = { max_tokens: 1000, messages: [{ role: 'user', content: 'abcd' }] };
    const r = plan('/v1/messages/batches', { requests: Array.from({ length: 50 }, (_, i) => ({ custom_id: `r${i}`, params: one })) });
    expect(r.format?.name).toBe('anthropic-batches');
    expect(admitted(r.plan)).toBe(50 * (1000 + 1 + 3));
    expect(full(r.plan)).toBe(admitted(r.plan));
  });

  it('reserves nothing on free endpoints (count_tokens, model lists)', () => {
    const r = plan('/v1/messages/count_tokens', { model: 'claude-x', messages: [{ role: 'user', content: 'hello' }] });
    expect(r.format?.free).toBe(true);
    expect(r.model).toBe('claude-x');
    expect(r.plan).toEqual({ input: 0, admitOutput: 0, fullOutput: 0 });
  });

  it('caps every reservation at MAX_TOKENS whatever the client asks', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.constantFrom('/v1/chat/completions', '/v1/completions', '/v1/responses', '/v1/messages', '/v1/messages/batches', '/v1/embeddings'), (max, n, path) => {
        const r = plan(path, { messages: [], prompt: 'x', max_tokens: max, max_output_tokens: max, n, best_of: n, requests: [{ params: { max_tokens: max } }, { params: { max_tokens: max } }] });
        for (const v of [r.plan.input, r.plan.admitOutput, r.plan.fullOutput]) {
          expect(Number.isSafeInteger(v) && v >= 0 && v <= MAX_TOKENS).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('names the requested model, or none', () => {
    expect(modelOf({ model: 'gpt-4o-mini', messages: [] })).toBe('gpt-4o-mini');
    for (const body of [{ model: '' }, { model: 7 }, {}, null, 'gpt-4o', [{ model: 'x' }]]) expect(modelOf(body)).toBeNull();
  });
});

describe('which endpoints a metered route meters', () => {
  it('meters every endpoint the official SDKs call with usage, each by its format', () => {
    const m = metering();
    const cases: [string, string, string][] = [
      ['POST', '/v1/chat/completions', 'openai-chat'],
      ['POST', '/chat/completions', 'openai-chat'],
      ['POST', '/v1/completions', 'openai-completions'],
      ['POST', '/v1/responses', 'openai-responses'],
      ['POST', '/v1/embeddings', 'openai-embeddings'],
      ['POST', '/v1/messages', 'anthropic-messages'],
      ['POST', '/v1/messages/batches', 'anthropic-batches'],
      ['POST', '/v1/messages/count_tokens', 'free'],
      ['GET', '/v1/models', 'free'],
      ['GET', '/v1/responses/resp_123', 'free'],
      ['GET', '/v1/messages/batches/msgbatch_1/results', 'free'],
    ];
    for (const [method, path, name] of cases) {
      const e = meteredEndpoint(m, method, path);
      expect(e.ok && e.format?.name, `${method} ${path}`).toBe(name);
    }
  });

  it('refuses paths outside metering.paths, including variant spellings of known ones', () => {
    const m = metering();
    for (const [method, path] of [
      ['POST', '/v1/chat/completions/'], ['POST', '/v1//chat/completions'], ['POST', '/v1/chat%2Fcompletions'], ['POST', '/v1/Chat/Completions'],
      ['POST', '/v1/batches'], ['POST', '/v1/files'], ['POST', '/v1/models/x/../../chat/completions'], ['POST', '/v1/responses/resp_1/compact'],
    ] as const) {
      expect(meteredEndpoint(m, method, path), `${method} ${path}`).toEqual({ ok: false, code: 'endpoint_not_metered' });
    }
    expect(meteredEndpoint(m, 'POST', null)).toEqual({ ok: false, code: 'endpoint_not_metered' });
  });

  it('with unknown = "reserve", meters an unlisted path with no format: admitted and charged in full', () => {
    const m = metering({ unknown: 'reserve' });
    const e = meteredEndpoint(m, 'POST', '/v1/batches');
    expect(e).toEqual({ ok: true, format: null, reserveAll: true });
    if (!e.ok) return;
    const p = prepareRequest(m, e, JSON.stringify({ input_file_id: 'file-1' }));
    expect(p.ok && p.request.plan).toEqual({ input: 0, admitOutput: 4000, fullOutput: 4000 });
  });

  it('metering.paths narrows the metered endpoints, with * and ** patterns', () => {
    const m = metering({ paths: ['/v1/chat/completions', '/deployments/*/chat/completions', '/**/embeddings'] });
    expect(meteredEndpoint(m, 'POST', '/v1/chat/completions').ok).toBe(true);
    expect(meteredEndpoint(m, 'POST', '/deployments/gpt-4o/chat/completions').ok).toBe(true);
    expect(meteredEndpoint(m, 'POST', '/deployments/a/b/chat/completions').ok).toBe(false);
    expect(meteredEndpoint(m, 'POST', '/a/b/embeddings').ok).toBe(true);
    expect(meteredEndpoint(m, 'POST', '/v1/messages').ok).toBe(false);
  });

  it('every format file declares endpoints with valid patterns', () => {
    const m = MeteringSchema.safeParse({ paths: FORMATS.flatMap((f) => f.endpoints.map((e) => e.path)) });
    expect(m.success).toBe(true);
  });
});

describe('path patterns', () => {
  it('a wildcard never matches an empty, dot, or percent-encoded segment', async () => {
    const { compilePattern } = await import('../../src/usage/path-pattern');
    const star = compilePattern('/v1/*/x');
    const any = compilePattern('/**/x');
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }).filter((s) => !s.includes('/')), (segment) => {
        const ok = /^[A-Za-z0-9._:~-]+$/.test(segment) && segment !== '.' && segment !== '..';
        expect(star.test(`/v1/${segment}/x`)).toBe(ok);
        expect(any.test(`/${segment}/x`)).toBe(ok);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('preparing any request body a client can send', () => {
  it('never throws, plans safe counts, and a rewrite is JSON that asks for stream usage', () => {
    const m = metering();
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({ model: fc.string(), messages: fc.jsonValue({ maxDepth: 3 }), stream: fc.jsonValue({ maxDepth: 1 }), stream_options: fc.jsonValue({ maxDepth: 1 }), max_tokens: fc.jsonValue({ maxDepth: 1 }), n: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
    );
    const paths = ['/v1/chat/completions', '/v1/completions', '/v1/responses', '/v1/embeddings', '/v1/messages', '/v1/messages/batches', '/v1/messages/count_tokens'];
    fc.assert(
      fc.property(body, fc.constantFrom(...paths), (value, path) => {
        const endpoint = meteredEndpoint(m, 'POST', path);
        if (!endpoint.ok) throw new Error('refused');
        const text = JSON.stringify(value);
        const prepared = prepareRequest(m, endpoint, text);
        expect(prepared.ok).toBe(true);
        if (!prepared.ok) return;
        for (const v of Object.values(prepared.request.plan)) expect(Number.isSafeInteger(v) && v >= 0 && v <= MAX_TOKENS).toBe(true);
        if (prepared.request.body !== text) {
          expect(JSON.parse(prepared.request.body ?? '')).toMatchObject({ stream: true, stream_options: { include_usage: true } });
        }
      }),
      { numRuns: 1000 },
    );
  });
});
