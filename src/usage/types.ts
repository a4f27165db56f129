// Usage types shared by the meters and the usage formats (src/usage/formats/): the token
// counts the gateway charges, what a request may cost, and what one format must provide.

/**
 * Tokens one upstream call consumed. `input` counts every prompt token the upstream processed,
 * cached or not (OpenAI's prompt_tokens already does; Anthropic's input_tokens does not, so
 * its cache fields are added in).
 */
export interface TokenUsage {
  input: number;
  output: number;
}

/** What a response told the meter about its usage. */
export interface UsageReading {
  /** Usage reported so far (final when `complete`), or null when none was reported. */
  usage: TokenUsage | null;
  /** True when the upstream's final usage report was read. */
  complete: boolean;
  /** Output tokens estimated from the text streamed so far (0 for JSON bodies). */
  streamed: number;
}

/** Follows one SSE response event by event. */
export interface SseUsageReader {
  onEvent(event: { event: string; data: string }): void;
  reading(): UsageReading;
}

/** The request's own bounds on what it may cost, read from its JSON body. */
export interface RequestCost {
  /** Input tokens estimated from the request text (src/usage/estimate.ts). */
  input: number;
  /** The output the request allows (its max tokens x n), or null when it set no maximum. */
  maxOutput: number | null;
  /** How many outputs it asks for (n, best_of): multiplies the ceiling when maxOutput is null. */
  outputs: number;
}

/** One endpoint of an API: HTTP methods and a sub-path pattern (src/usage/path-pattern.ts). */
export interface Endpoint {
  methods: readonly string[];
  path: string;
}

/**
 * A wire format an upstream reports usage in, for the endpoints it lists. Registered in
 * src/usage/formats/index.ts.
 */
export interface UsageFormat {
  /** Config name, e.g. "openai-chat"; the family ("openai") is the part before the first "-". */
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
  /** Endpoints that generate nothing (count_tokens, listings): no tokens are reserved or charged. */
  readonly free?: boolean;
  /** What the JSON request body may cost; absent: the generic estimate. */
  cost?(body: Record<string, unknown>): RequestCost;
  /** Rewrites the parsed body so that the upstream reports usage; true when it changed it. */
  prepare?(body: Record<string, unknown>): boolean;
  /** Usage from the top-level `usage` object of a JSON response. */
  jsonUsage?(usage: Record<string, unknown>): TokenUsage | null;
  /** A reader for a `text/event-stream` response. */
  sse?(): SseUsageReader;
  /** Usage from the response headers. */
  headerUsage?(headers: Headers, headerName: string): TokenUsage | null;
  /**
   * The limit headers its responses carry beside RateLimit-Policy/RateLimit: `llm` (the
   * default) adds OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, which the
   * OpenAI and Anthropic SDKs read; `standard` adds none (APIs whose clients know no such family).
   */
  readonly limitHeaders?: 'llm' | 'standard';
}
