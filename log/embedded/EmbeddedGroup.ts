import { partitionKey, type TopicPartition } from '../Log.js';
import { assignPartitionNumbers, type MemberSubscription } from '../TaskAssignor.js';
import type { TopicCatalog } from './TopicCatalog.js';
import { NamedError } from '../../errors/NamedError.js';

/** What the group needs of a member (an EmbeddedConsumer). */
export interface GroupMember {
  /** The subscribed topics (existing or not yet). */
  readonly subscription: readonly string[];
  /** Ends a waiting poll: the group has a new assignment for the member to apply. */
  wake(): void;
}

/**
 * One partition's ownership by a member. A new object per acquisition, so a claim taken before a
 * partition moved away (and perhaps came back) is told apart from the current one: that is how
 * a commit prepared by a member that has since lost the partition is refused.
 */
export interface Ownership {
  readonly member: GroupMember;
  readonly generation: number;
}

/** Kafka's CommitFailedException / ILLEGAL_GENERATION for the embedded log. */
export class CommitFencedError extends NamedError {
  constructor(
    readonly groupId: string,
    readonly partition: string,
  ) {
    super(
      `group "${groupId}": the committing member does not own ${partition} any more (it was reassigned in a rebalance), so its offsets and the transaction carrying them are refused`,
    );
  }
}

const NONE: readonly TopicPartition[] = [];

/**
 * A consumer group of the embedded log: its members in this process, who owns which partition,
 * and the assignment they converge to. There is no coordinator round trip: a change (a member
 * joins, leaves, re-subscribes or revokes; a subscribed topic appears) marks the group dirty and
 * wakes every member's waiting poll; the next member to poll recomputes the assignment with the
 * task-aware cooperative assignor Kafka mode uses (log/TaskAssignor.ts), as one new generation,
 * and each member applies its share in its own poll, running its listener there.
 *
 * Cooperative, as in Kafka: the assignor never hands a member a partition another member still
 * owns; the owner's assignment simply lacks it, the owner revokes it in its next poll
 * (onRevoked, where it commits), the group is dirty again, and the next generation gives it to
 * its new owner (onAssigned). The ownership map is checked on every acquisition, so no partition
 * is ever owned by two members, even when a member applies an assignment late.
 */
export class EmbeddedGroup {
  generation = 0;
  private readonly members = new Map<GroupMember, string>();
  private nextMemberId = 0;
  private readonly owners = new Map<string, Ownership>();
  private targets = new Map<GroupMember, readonly TopicPartition[]>();
  private dirty = true;
  private catalogVersion = -1;

  constructor(readonly groupId: string) {}

  get size(): number {
    return this.members.size;
  }

  join(member: GroupMember): void {
    if (this.members.has(member)) return;
    // Zero-padded so the assignor's sorted member order is the join order.
    this.members.set(member, `member-${String(this.nextMemberId++).padStart(9, '0')}`);
    this.changed(member);
  }

  /** The member is gone: whatever it still owned is free for the others. */
  leave(member: GroupMember): void {
    if (!this.members.delete(member)) return;
    for (const [key, ownership] of this.owners) if (ownership.member === member) this.owners.delete(key);
    this.targets.delete(member);
    this.changed(member);
  }

  /** Subscription changed, or the member revoked partitions: assign again. */
  changed(by?: GroupMember): void {
    this.dirty = true;
    for (const member of this.members.keys()) if (member !== by) member.wake();
  }

  /**
   * The current generation, assigning again first when something changed since the last one.
   * The single-member, nothing-changed case (every poll of the default setup) is two compares.
   */
  refresh(catalog: TopicCatalog): number {
    if (this.dirty || this.catalogVersion !== catalog.version) this.rebalance(catalog);
    return this.generation;
  }

  /** The member's assignment of the current generation. */
  targetOf(member: GroupMember): readonly TopicPartition[] {
    return this.targets.get(member) ?? NONE;
  }

  private rebalance(catalog: TopicCatalog): void {
    const owned = new Map<GroupMember, TopicPartition[]>();
    for (const [key, { member }] of this.owners) {
      const list = owned.get(member) ?? [];
      list.push(parseKey(key));
      owned.set(member, list);
    }
    const subscriptions = new Map<string, MemberSubscription>();
    const counts = new Map<string, number>();
    for (const [member, id] of this.members) {
      subscriptions.set(id, { topics: [...member.subscription], owned: owned.get(member) ?? [] });
      for (const name of member.subscription) {
        const topic = catalog.get(name);
        if (topic) counts.set(name, topic.partitions.length);
      }
    }
    const assigned = assignPartitionNumbers(subscriptions, counts);
    this.targets = new Map([...this.members].map(([member, id]) => [member, assigned.get(id) ?? NONE]));
    this.generation++;
    this.dirty = false;
    this.catalogVersion = catalog.version;
    for (const member of this.members.keys()) member.wake();
  }

  /** Takes a partition for the member; null when another member owns it (it must revoke it first). */
  acquire(member: GroupMember, tp: TopicPartition): Ownership | null {
    if (!this.members.has(member)) return null;
    const key = partitionKey(tp);
    const current = this.owners.get(key);
    if (current) return current.member === member ? current : null;
    const ownership: Ownership = { member, generation: this.generation };
    this.owners.set(key, ownership);
    return ownership;
  }

  /** The member revoked these partitions (after its onRevoked): they can move now. */
  release(member: GroupMember, tps: TopicPartition[]): void {
    for (const tp of tps) {
      const key = partitionKey(tp);
      if (this.owners.get(key)?.member === member) this.owners.delete(key);
    }
    this.changed();
  }

  owner(key: string): Ownership | undefined {
    return this.owners.get(key);
  }
}

/**
 * Fencing of offset commits by partition ownership (Kafka refuses a stale generation's commits
 * with ILLEGAL_GENERATION): captures now who owns each partition, and returns the check the
 * write runs. An offset is refused (CommitFencedError, the whole commit unit with it) when the
 * committing member owned the partition then and does not hold that same ownership any more
 * (revoked, or the member left or its session was released), or when it did not own it and
 * another member does by then. Partitions nobody owns (a group without live members, tools)
 * commit freely.
 */
export function ownershipGuard(
  groups: ReadonlyMap<string, EmbeddedGroup>,
  groupId: string,
  partitions: TopicPartition[],
  member: { claimOf(key: string): Ownership | undefined } | undefined,
): () => void {
  const captured = partitions.map((tp): [string, Ownership | undefined] => {
    const key = partitionKey(tp);
    return [key, member?.claimOf(key)];
  });
  return () => {
    const group = groups.get(groupId);
    for (const [key, mine] of captured) {
      const owner = group?.owner(key);
      if (mine ? owner !== mine : owner !== undefined) throw new CommitFencedError(groupId, key);
    }
  };
}

function parseKey(key: string): TopicPartition {
  const at = key.lastIndexOf(':');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}
