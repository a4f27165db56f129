// One store call that answers several admissions (group commit, group-commit.ts) is one call
// to the circuit breaker (guard.ts): its streak counts store calls, not the admissions they
// carried, so one transient fault or one stalled request never opens it alone. An admission
// that fails or times out names the call it rode on, or waited behind, and the guard counts
// that call once; the guard giving up on an admission also tells the batcher (a call that
// never ends holds its waiters until then).

/** What a batcher tells about one admission it returned. */
export interface CallTag {
  /** The call it rides on, or waits behind, now. */
  call(): object | undefined;
  /** Its caller gave up on it (timed out). */
  gaveUp(): void;
}

// An admission's promise -> its tag. Weak: an entry goes with its promise.
const tags = new WeakMap<Promise<unknown>, CallTag>();

export function tagCall<T>(admission: Promise<T>, tag: CallTag): Promise<T> {
  tags.set(admission, tag);
  return admission;
}

/** The store call behind an admission, if a batcher named one. */
export function callOf(admission: Promise<unknown>): object | undefined {
  return tags.get(admission)?.call();
}

/** The caller gives up on an admission: tells its batcher; the store call behind it, if named. */
export function giveUp(admission: Promise<unknown>): object | undefined {
  const tag = tags.get(admission);
  if (tag === undefined) return undefined;
  const call = tag.call();
  tag.gaveUp();
  return call;
}
