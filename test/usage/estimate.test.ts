import { describe, expect, it } from 'vitest';
import { modelOf, reservationFor } from '../../src/usage/estimate';

describe('reservation before forwarding', () => {
  it('reserves the OpenAI max_tokens plus the estimated input', () => {
    // 'Hello there' = 11 characters, 'Hi' = 2: ceil(13 / 4) = 4, plus 3 per message.
    const body = { model: 'gpt-x', max_tokens: 100, messages: [{ role: 'system', content: 'Hello there' }, { role: 'user', content: 'Hi' }] };
    expect(reservationFor(body, 50)).toBe(100 + 4 + 6);
  });

  it('reserves max_completion_tokens, and the larger cap when both are given', () => {
    const messages = [{ role: 'user', content: 'abcd' }];
    expect(reservationFor({ messages, max_completion_tokens: 64 }, 50)).toBe(64 + 1 + 3);
    expect(reservationFor({ messages, max_tokens: 10, max_completion_tokens: 64 }, 50)).toBe(64 + 1 + 3);
  });

  it('counts Anthropic content blocks and the top-level system prompt', () => {
    const body = {
      model: 'claude-x', max_tokens: 1024, system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Grüße, 世界 🌍' }, { type: 'image', source: {} }] }],
    };
    // 'Be brief.' = 9 and 'Grüße, 世界 🌍' = 11 code points (12 UTF-16 units): ceil(20 / 4) = 5, plus 3 × 2 messages.
    expect(reservationFor(body, 50)).toBe(1024 + 5 + 6);
  });

  it('uses the default for the output when the request sets no cap', () => {
    expect(reservationFor({ messages: [{ role: 'user', content: 'abcdefgh' }] }, 500)).toBe(500 + 2 + 3);
  });

  it('counts a legacy completions prompt', () => {
    expect(reservationFor({ prompt: 'x'.repeat(40), max_tokens: 7 }, 500)).toBe(7 + 10);
  });

  it('reserves the default for bodies that are not LLM requests', () => {
    for (const body of [undefined, null, 'text', 42, [], {}, { query: 'x' }, { messages: 'nope' }]) {
      expect(reservationFor(body, 77)).toBe(77);
    }
  });

  it('ignores caps that are not positive integers', () => {
    const messages = [{ role: 'user', content: 'abcd' }];
    for (const max_tokens of [0, -5, 1.5, '100', null, Number.MAX_VALUE]) {
      expect(reservationFor({ messages, max_tokens }, 50)).toBe(50 + 1 + 3);
    }
  });

  it('names the requested model, or none', () => {
    expect(modelOf({ model: 'gpt-4o-mini', messages: [] })).toBe('gpt-4o-mini');
    for (const body of [{ model: '' }, { model: 7 }, {}, null, 'gpt-4o', [{ model: 'x' }]]) expect(modelOf(body)).toBeNull();
  });
});
