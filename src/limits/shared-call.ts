// One store call that answers several admissions (group commit, group-commit.ts) is one call
// to the circuit breaker (guard.ts): its streak counts store calls, not the admissions they
// carried, so one transient fault or one stalled request never opens it alone. An error shared
// by several admissions reaches the first as it is and the others as SharedFault; an admission
// that times out names the call it rode on, or waited behind, so the guard counts it once.

/** A store fault another admission has already been answered with. Same message as the fault. */
export class SharedFault extends Error {
  override readonly name = 'SharedFault';
  constructor(fault: unknown) {
    super(fault instanceof Error ? fault.message : String(fault), { cause: fault });
  }
}

// An admission's promise -> the call it rides on or waits behind now. Weak: an entry goes with
// its promise.
const calls = new WeakMap<Promise<unknown>, () => object | undefined>();

/** Names the store call behind `admission` (read when its caller gives up on it). */
export function tagCall<T>(admission: Promise<T>, callOf: () => object | undefined): Promise<T> {
  calls.set(admission, callOf);
  return admission;
}

/** The store call behind a promise tagCall() named; undefined for any other promise. */
export function callOf(admission: Promise<unknown>): object | undefined {
  return calls.get(admission)?.();
}
