// The one rule for what a metered request is charged, from its reservation plan and what
// the meter read. Every count passes through clampTokens, so nothing an upstream or a client
// sends can make a charge negative or unsafe.
//
//   usage reported in full        → that usage
//   otherwise (no usage, a stream cut short, an unreadable or lying report, a JSON body the
//   client left early, a background response)
//                                 → input: the reported input, else the input estimate
//                                   output: the largest of the request's full output
//                                   allowance (max tokens x n, or metering.max_reservation
//                                   x n when it set none), the output reported so far, and
//                                   the estimate of the text streamed (1 token / 4 chars)
import { clampTokens } from './fields';
import type { TokenUsage, UsageReading } from './types';

export interface ReservationPlan {
  /** Input tokens estimated from the request. */
  input: number;
  /** Output tokens reserved at admission (the request's max, else default_reservation). */
  admitOutput: number;
  /** Output tokens charged when usage cannot be read (the request's max, else the ceiling). */
  fullOutput: number;
}

export function admittedTokens(plan: ReservationPlan): number {
  return clampTokens(plan.input + plan.admitOutput);
}

export function chargeFor(plan: ReservationPlan, reading: UsageReading): TokenUsage {
  const reported = reading.usage;
  if (reading.complete && reported) return { input: clampTokens(reported.input), output: clampTokens(reported.output) };
  const input = clampTokens(reported ? reported.input : plan.input);
  const output = clampTokens(Math.max(plan.fullOutput, reported?.output ?? 0, reading.streamed));
  return { input, output };
}
