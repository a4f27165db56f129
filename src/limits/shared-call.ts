// One store call that answers several admissions (group commit, group-commit.ts) is one call
// to the circuit breaker (guard.ts): its streak counts store calls, not the admissions they
// carried, so one transient fault or one stalled request never opens it alone. An error shared
// by several admissions reaches the first as it is and the others as SharedFault; an admission
// that times out names the call it rode on, or waited behind, so the guard counts it once, and
// the guard giving up tells the batcher (a call that never ends holds its waiters until then).

/** A store fault another admission has already been answered with. Same message as the fault. */
export class SharedFault extends Error {
  override readonly name = 'SharedFault';
  constructor(fault: unknown) {
    super(fault instanceof Error ? fault.message : String(fault), { cause: fault });
  }
}

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

/** The caller gives up on an admission: tells its batcher; the store call behind it, if named. */
export function giveUp(admission: Promise<unknown>): object | undefined {
  const tag = tags.get(admission);
  if (tag === undefined) return undefined;
  const call = tag.call();
  tag.gaveUp();
  return call;
}
