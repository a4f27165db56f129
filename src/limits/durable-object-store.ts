// LimitStore over the LimiterObject Durable Object namespace: one object per counter id (a
// key's own id, or its rotation lineage's), one RPC call per admission. A key's marker lives
// in its counter object, so the admission reads it in the same call. A key whose owner has
// limits is admitted in its owner's object instead (ownerShard), which holds the owner's
// counters, its keys' counters and a copy of their markers: one call, atomic over both.

import { boundedSettlement } from './admit-input';
import { KEY_PREFIX, OWNER_PREFIX, type LimiterObject } from './durable-object';
import { GroupCommit, groupCommitOptions, type GroupCommitOptions, type Settled } from './group-commit';
import type { BlockReason } from '../keys/status';
import { markerFlag, type AdmitInput, type AdmitOutcome, type BudgetSpec, type CounterSpec, type CreditsChange, type CreditsSpec, type CreditsState, type LimitStore, type Settlement, type Ticket, type UsageSnapshot } from './store';

/** An owner's object name. Key ids start with `key_`, so no owner's name can reach a key's object. */
export const ownerShard = (owner: string): string => `owner:${owner}`;

export class DurableObjectLimitStore implements LimitStore {
  readonly kind = 'durable_object' as const;
  /** Admissions waiting on the same object go out together (one RPC, one transaction each). */
  readonly batches: GroupCommit<AdmitInput, AdmitOutcome>;

  constructor(
    private readonly ns: DurableObjectNamespace<LimiterObject>,
    batching: Partial<GroupCommitOptions> = {},
  ) {
    this.batches = new GroupCommit((shard, inputs) => this.admitBatch(shard, inputs), groupCommitOptions(batching));
  }

  private stub(name: string) {
    return this.ns.get(this.ns.idFromName(name));
  }

  admit(input: AdmitInput, keepAlive?: (call: Promise<unknown>) => void): Promise<AdmitOutcome> {
    return this.batches.submit(input.owner ? ownerShard(input.owner.id) : (input.counterId ?? input.keyId), input, keepAlive);
  }

  private async admitBatch(shard: string, inputs: AdmitInput[]): Promise<Settled<AdmitOutcome>[]> {
    const stub = this.stub(shard);
    if (inputs.length === 1) return [{ ok: true, value: (await stub.admit(inputs[0]!)) as AdmitOutcome }];
    const answers = await stub.admitMany(inputs);
    return answers.map((a) => (a.ok ? { ok: true, value: a.value as AdmitOutcome } : { ok: false, error: new Error(a.error) }));
  }

  async settle(ticket: Ticket, settlement: Settlement): Promise<void> {
    await this.stub(ticket.owner ? ownerShard(ticket.owner.id) : ticket.keyId).settle(ticket, boundedSettlement(settlement));
  }

  async release(ticket: Ticket, refund: boolean, now: number): Promise<void> {
    await this.stub(ticket.owner ? ownerShard(ticket.owner.id) : ticket.keyId).release(ticket, refund, now);
  }

  async setBlocked(keyId: string, reason: BlockReason | null, counterId?: string, owner?: string | null): Promise<void> {
    const writes = [this.stub(counterId ?? keyId).setBlocked(reason, markerFlag(keyId, counterId))];
    if (owner) writes.push(this.stub(ownerShard(owner)).setBlocked(reason, markerFlag(keyId, counterId, true)));
    await Promise.all(writes);
  }

  async usage(keyId: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number, owner?: string, credits?: CreditsSpec): Promise<UsageSnapshot> {
    if (owner) return (await this.stub(ownerShard(owner)).usage(counters, budget, now, `${KEY_PREFIX}${keyId}:`, credits)) as UsageSnapshot;
    return (await this.stub(keyId).usage(counters, budget, now, '', credits)) as UsageSnapshot;
  }

  async changeCredits(keyId: string, credits: CreditsSpec, change: CreditsChange, owner?: string): Promise<CreditsState> {
    if (owner) return (await this.stub(ownerShard(owner)).changeCredits(credits, change, `${KEY_PREFIX}${keyId}:`)) as CreditsState;
    return (await this.stub(keyId).changeCredits(credits, change)) as CreditsState;
  }

  async ownerUsage(owner: string, counters: CounterSpec[], budget: BudgetSpec | undefined, now: number): Promise<UsageSnapshot> {
    return (await this.stub(ownerShard(owner)).usage(counters, budget, now, OWNER_PREFIX)) as UsageSnapshot;
  }
}
