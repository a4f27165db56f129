// LimitStore over the LimiterObject Durable Object namespace: one object per key id, one
// RPC call per admission.

import { boundedSettlement } from './admit-input';
import type { LimiterObject } from './durable-object';
import type { AdmitInput, BlockReason, AdmitOutcome, BudgetSpec, CounterSpec, LimitStore, Settlement, Ticket, UsageSnapshot } from './store';

export class DurableObjectLimitStore implements LimitStore {
  readonly kind = 'durable_object' as const;

  constructor(private readonly ns: DurableObjectNamespace<LimiterObject>) {}

  private stub(keyId: string) {
    return this.ns.get(this.ns.idFromName(keyId));
  }

  async admit(input: AdmitInput): Promise<AdmitOutcome> {
    return (await this.stub(input.keyId).admit(input)) as AdmitOutcome;
  }

  async settle(ticket: Ticket, settlement: Settlement): Promise<void> {
    await this.stub(ticket.keyId).settle(ticket, boundedSettlement(settlement));
  }

  async setBlocked(keyId: string, reason: BlockReason | null): Promise<void> {
    await this.stub(keyId).setBlocked(reason);
  }

  async usage(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Promise<UsageSnapshot> {
    return (await this.stub(keyId).usage(counters, budget, now)) as UsageSnapshot;
  }
}
