// What an LLM request may cost, read from its body before it is forwarded: the tokens to
// reserve against a key's token limit (settled later with the metered usage) and the model.
import { isRecord } from './fields';

/** Per-message overhead, as chat APIs add role and separator tokens to every message. */
const TOKENS_PER_MESSAGE = 3;

/**
 * Tokens to reserve for a request body (OpenAI chat/completions or Anthropic messages):
 *   input  = ceil(characters of message text / 4) + 3 per message (Anthropic's top-level
 *            `system` counts as one more message; a legacy `prompt` string counts as text)
 *   output = the larger of max_tokens and max_completion_tokens, else defaultEstimate
 * A body with neither messages, prompt nor a token cap (not an LLM request, or not JSON)
 * reserves defaultEstimate.
 *
 * The demo upstream reports usage with the same rule, so there reservation and usage agree.
 */
export function reservationFor(body: unknown, defaultEstimate: number): number {
  if (!isRecord(body)) return defaultEstimate;
  const input = inputEstimate(body);
  const output = maxOutput(body);
  if (input === null && output === null) return defaultEstimate;
  return (input ?? 0) + (output ?? defaultEstimate);
}

/** The requested model, or null when the body names none. */
export function modelOf(body: unknown): string | null {
  return isRecord(body) && typeof body.model === 'string' && body.model !== '' ? body.model : null;
}

function maxOutput(body: Record<string, unknown>): number | null {
  let max: number | null = null;
  for (const value of [body.max_tokens, body.max_completion_tokens]) {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) max = Math.max(max ?? 0, value);
  }
  return max;
}

function inputEstimate(body: Record<string, unknown>): number | null {
  let chars = 0;
  let messages = 0;
  let found = false;
  if (Array.isArray(body.messages)) {
    found = true;
    for (const message of body.messages) {
      messages += 1;
      if (isRecord(message)) chars += contentChars(message.content);
    }
    if (body.system !== undefined && body.system !== null) {
      messages += 1;
      chars += contentChars(body.system);
    }
  }
  if (typeof body.prompt === 'string' || Array.isArray(body.prompt)) {
    found = true;
    chars += contentChars(body.prompt);
  }
  return found ? Math.ceil(chars / 4) + TOKENS_PER_MESSAGE * messages : null;
}

/** Unicode code points of text in a message content: a string or an array of parts. */
function contentChars(content: unknown): number {
  if (typeof content === 'string') return codePoints(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part === 'string') n += codePoints(part);
    else if (isRecord(part) && typeof part.text === 'string') n += codePoints(part.text);
  }
  return n;
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}
