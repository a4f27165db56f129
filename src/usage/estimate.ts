// Estimates made before or without the upstream's word: the input tokens of a request body,
// the output tokens of text seen streaming past, and the model named. One ratio for all:
//   1 token per 4 characters (Unicode code points) of text, plus 3 tokens per chat message
//   (role and separators), and at least 1 token per streamed delta event.
// The demo upstream reports usage with the same rule, so there reservation and usage agree.
import { clampTokens, codePoints, isRecord, requestedCount } from './fields';
import type { RequestCost } from './types';

export const CHARS_PER_TOKEN = 4;
const TOKENS_PER_MESSAGE = 3;
/** Nesting followed when looking for text in a request (content parts inside items). */
const MAX_TEXT_DEPTH = 8;
/** Fields that hold text the model reads, in chat messages, Responses items and content parts. */
const TEXT_FIELDS = ['content', 'text', 'input', 'output', 'arguments', 'thinking', 'instructions'] as const;

/** The requested model, or null when the body names none. */
export function modelOf(body: unknown): string | null {
  return isRecord(body) && typeof body.model === 'string' && body.model !== '' ? body.model : null;
}

/** Output tokens for text streamed so far: the larger of one per delta and the character ratio. */
export function streamedTokens(chars: number, deltas: number): number {
  return clampTokens(Math.max(deltas, Math.ceil(chars / CHARS_PER_TOKEN)));
}

/** Tokens for a count of characters of input text and chat messages. */
export function inputTokens(chars: number, messages: number): number {
  return clampTokens(Math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * messages);
}

/**
 * Characters of text in a request value: strings, and the text fields of parts and items,
 * at any depth up to a bound. Images and audio (base64 `data`, `image_url`) are not text and
 * do not count; the upstream's reported usage settles them.
 */
export function textChars(value: unknown, depth = 0): number {
  if (typeof value === 'string') return codePoints(value);
  if (depth >= MAX_TEXT_DEPTH) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += textChars(item, depth + 1);
  } else if (isRecord(value)) {
    for (const field of TEXT_FIELDS) if (Object.hasOwn(value, field)) n += textChars(value[field], depth + 1);
  }
  return n;
}

/** The largest of the request's output caps, or null when it sets none. */
export function maxOf(body: Record<string, unknown>, fields: readonly string[]): number | null {
  let max: number | null = null;
  for (const field of fields) {
    const value = Object.hasOwn(body, field) ? requestedCount(body[field]) : null;
    if (value !== null) max = Math.max(max ?? 0, value);
  }
  return max;
}

/** `n` (and the like): how many outputs the request generates; 1 when absent. */
export function outputsOf(body: Record<string, unknown>, fields: readonly string[] = ['n']): number {
  let outputs = 1;
  for (const field of fields) {
    const value = Object.hasOwn(body, field) ? requestedCount(body[field]) : null;
    if (value !== null) outputs = Math.max(outputs, value);
  }
  return outputs;
}

/** A cost from its parts, every count clamped. */
export function costOf(input: number, max: number | null, outputs: number): RequestCost {
  return { input: clampTokens(input), maxOutput: max === null ? null : clampTokens(max * outputs), outputs: clampTokens(outputs) || 1 };
}

/**
 * The generic estimate, for paths no format describes (`metering.unknown = "reserve"`):
 * chat `messages` (+ `system`), `prompt`, `input` and `instructions` text; any of the known
 * output caps; `n`.
 */
export function genericCost(body: Record<string, unknown>): RequestCost {
  let messages = 0;
  if (Array.isArray(body.messages)) messages = body.messages.length + (body.system !== undefined && body.system !== null ? 1 : 0);
  let chars = 0;
  for (const field of ['messages', 'system', 'prompt', 'input', 'instructions']) if (Object.hasOwn(body, field)) chars += textChars(body[field]);
  return costOf(inputTokens(chars, messages), maxOf(body, ['max_tokens', 'max_completion_tokens', 'max_output_tokens']), outputsOf(body, ['n', 'best_of']));
}

// Values a lax upstream validator (pydantic's, for one) reads as false; anything else that is
// present asks for a stream, or is refused by the upstream.
const FALSE_WORDS = new Set(['0', 'false', 'f', 'no', 'n', 'off', '']);

/** Whether the upstream would stream for this `stream` value. */
export function asksForStream(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0) return false;
  if (typeof value === 'string') return !FALSE_WORDS.has(value.trim().toLowerCase());
  return true;
}
