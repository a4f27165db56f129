// How a model named by a client finds its entry in PRICES and model_limits: the one rule,
// used by both. A client's model string is normalised (trimmed, lower-cased) so `GPT-4o` and
// `"gpt-4o "` cannot escape a `gpt-4o` entry, and configured names may end in `*` to cover a
// family (`gpt-4o*` covers `gpt-4o-2024-08-06`) so dated snapshots cannot escape either.
// An exact name beats any family; among families the longest prefix wins.
//
// Entries live in a Map and a list, never a plain object: a client's string must never reach
// Object.prototype (`constructor`, `__proto__`, `toString`).

export const MAX_MODEL_KEY_LENGTH = 200;

/** The form a client's model name is compared in. */
export function normaliseModel(name: string): string {
  return name.trim().toLowerCase();
}

/** Why a configured model name is not usable, or null: the config schema reports this. */
export function modelKeyProblem(key: string): string | null {
  if (key.length === 0 || key.length > MAX_MODEL_KEY_LENGTH) return `must be 1-${MAX_MODEL_KEY_LENGTH} characters`;
  if (key !== normaliseModel(key)) return 'must be lower-case without surrounding spaces';
  // Parsed config is copied into plain objects on its way here, and assigning `__proto__`
  // there sets the prototype instead of an entry: the limit or price would vanish unseen.
  if (key === '__proto__') return 'is reserved';
  const star = key.indexOf('*');
  if (star !== -1 && star !== key.length - 1) return 'may hold one "*", only at the end';
  return null;
}

export interface ModelMatch<V> {
  /** The configured name that matched (`gpt-4o*`): counters are named after it. */
  key: string;
  value: V;
}

export class ModelTable<V> {
  readonly #exact = new Map<string, V>();
  /** Families, longest prefix first. */
  readonly #families: { prefix: string; key: string; value: V }[] = [];

  /**
   * Later entries replace earlier ones with the same name. Names are normalised here too:
   * key records stored before the rule existed may hold `GPT-4o`.
   */
  constructor(entries: Iterable<readonly [string, V]>) {
    const all = new Map<string, V>();
    for (const [name, value] of entries) all.set(normaliseModel(name), value);
    for (const [key, value] of all) {
      if (key.endsWith('*')) this.#families.push({ prefix: key.slice(0, -1), key, value });
      else this.#exact.set(key, value);
    }
    this.#families.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  get size(): number {
    return this.#exact.size + this.#families.length;
  }

  /** The entry for a client's model name: exact first, else the longest family. */
  match(model: string): ModelMatch<V> | undefined {
    if (this.size === 0) return undefined;
    const name = normaliseModel(model);
    const exact = this.#exact.get(name);
    if (exact !== undefined) return { key: name, value: exact };
    for (const f of this.#families) if (name.startsWith(f.prefix)) return { key: f.key, value: f.value };
    return undefined;
  }

  /** Every configured entry, by name. */
  *entries(): IterableIterator<[string, V]> {
    yield* this.#exact;
    for (const f of this.#families) yield [f.key, f.value];
  }
}
