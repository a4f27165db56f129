// Work the limits step leaves for after the store answered: releasing a concurrency lease when
// the response body ends or the client leaves, and undoing an admission that committed after
// the guard had given up on it.

import type { Context } from 'hono';
import type { AppEnv } from '../context';
import type { AdmissionPlan } from '../limits/admission';
import { refundTicket, type AdmitOutcome, type Ticket } from '../limits/store';

/** Releases a ticket's lease once, after the response (ctx.waitUntil). */
export function releaseOnce(c: Context<AppEnv>, ticket: Ticket): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const services = c.get('services');
    c.executionCtx.waitUntil(services.guard.run('settle', services.timeouts.settle, () => services.limits.release(ticket, false, Date.now())));
  };
}

/** The body, calling `done` once it ends, errors or is cancelled (the client left). */
export function releasingBody(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          controller.close();
          done();
        } else controller.enqueue(chunk.value);
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
}

/**
 * An admission the guard gave up on that committed later. Refused by this gateway (`refund`):
 * everything it charged goes back (request windows, credits and lease via release(); tokens
 * and budget via settle()). Admitted uncounted: only its lease, which nothing else would end.
 */
export async function undoLateAdmission(c: Context<AppEnv>, pending: Promise<AdmitOutcome>, admission: AdmissionPlan, refund: boolean): Promise<void> {
  const outcome = await pending.catch(() => undefined);
  if (outcome?.status !== 'admitted') return;
  const ticket = refund ? refundTicket(outcome.ticket, admission.input) : outcome.ticket;
  if (!refund && !ticket.lease) return;
  const services = c.get('services');
  const now = Date.now();
  const calls: Promise<unknown>[] = [services.guard.run('settle', services.timeouts.settle, () => services.limits.release(ticket, refund, now))];
  if (refund && (admission.reservation > 0 || admission.reservedMicros > 0)) {
    const settlement = { tokenDelta: -admission.reservation, costDeltaMicros: -admission.reservedMicros, now };
    calls.push(services.guard.run('settle', services.timeouts.settle, () => services.limits.settle(ticket, settlement)));
  }
  await Promise.all(calls);
}
