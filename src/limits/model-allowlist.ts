// Model allowlists (`models` on a key or an owner): names or `*` families, matched with the
// one model-name rule PRICES and model_limits use (src/limits/model-match.ts). Checked before
// any store call: a refused model costs no round trip and consumes nothing.

import { ModelTable } from './model-match';

/** A key's or an owner's allowlist; null when it has none (every model allowed). */
export type ModelAllowlist = ModelTable<true> | null;

export function modelAllowlist(models: readonly string[] | undefined): ModelAllowlist {
  if (!models || models.length === 0) return null;
  return new ModelTable(models.map((m) => [m, true] as const));
}

/**
 * Whether a request naming `model` (null: none found) may pass `list`. A metered request
 * without a model passes only when there is no list; elsewhere a request without a model
 * (a GET, a body that names none) is not a model call and passes.
 */
export function modelAllowed(list: ModelAllowlist, model: string | null, metered: boolean): boolean {
  if (list === null) return true;
  if (model === null) return !metered;
  return list.match(model) !== undefined;
}
