// What the page remembers between events (besides the credential, which api.ts holds).

import type { KeyRecord } from './types';

export type Filters = Record<string, string>;

export const state: {
  /** The list's filters as query parameters. */
  filters: Filters;
  /** The next page of the key list, if any. */
  cursor: string | null;
  /** Bumped per listing, so a slow older listing does not overwrite a newer one. */
  listSeq: number;
  /** The keys shown in the table, by id. */
  keys: Map<string, KeyRecord>;
  /** The key the open revoke or rotate dialog acts on. */
  target: KeyRecord | null;
  /** The open rotate dialog's idempotency key, reused if its request is retried. */
  idempotencyKey: string | null;
} = { filters: {}, cursor: null, listSeq: 0, keys: new Map(), target: null, idempotencyKey: null };
