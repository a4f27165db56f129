// LimitStore over the LimiterObject Durable Object namespace: one object per counter id (a
// key's own id, or its rotation lineage's), one RPC call per admission. A key's marker lives
// in its counter object, so the admission reads it in the same call.

import { boundedSettlement } from './admit-input';
import type { LimiterObject } from './durable-object';
import type { BlockReason } from '../keys/status';
import { markerFlag, type AdmitInput, type AdmitOutcome, type BudgetSpec, type CounterSpec, type LimitStore, type Settlement, type Ticket, type UsageSnapshot } from './store';

export class DurableObjectLimitStore implements LimitStore {
  readonly kind = 'durable_object' as const;

  constructor(private readonly ns: DurableObjectNamespace<LimiterObject>) {}

  private stub(keyId: string) {
    return this.ns.get(this.ns.idFromName(keyId));
  }

  async admit(input: AdmitInput): Promise<AdmitOutcome> {
    return (await this.stub(input.counterId ?? input.keyId).admit(input)) as AdmitOutcome;
  }

  async settle(ticket: Ticket, settlement: Settlement): Promise<void> {
    await this.stub(ticket.keyId).settle(ticket, boundedSettlement(settlement));
  }

  async setBlocked(keyId: string, reason: BlockReason | null, counterId?: string): Promise<void> {
    await this.stub(counterId ?? keyId).setBlocked(reason, markerFlag(keyId, counterId));
  }

  async usage(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Promise<UsageSnapshot> {
    return (await this.stub(keyId).usage(counters, budget, now)) as UsageSnapshot;
  }
}
