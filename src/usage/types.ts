// Usage types shared by the meters: which wire format an upstream reports usage in, and the
// token counts the gateway charges against a key's limits.

/** How an upstream reports usage: in OpenAI or Anthropic bodies, or in a response header. */
export type UsageFormat = 'openai' | 'anthropic' | 'header';

/**
 * Tokens one upstream call consumed. `input` counts every prompt token the upstream processed,
 * cached or not (OpenAI's prompt_tokens already does; Anthropic's input_tokens does not, so
 * its cache fields are added in).
 */
export interface TokenUsage {
  input: number;
  output: number;
}

/** Follows one SSE response event by event and knows the usage reported so far. */
export interface SseUsageReader {
  onEvent(event: { event: string; data: string }): void;
  /** Usage reported so far, or null when the upstream has reported none. */
  usage(): TokenUsage | null;
}
