import { partitionKey, type TopicPartition } from './Log.js';

/**
 * The group assignment both log modes use (Kafka: the leader's cooperative-sticky assignor in
 * log/kafka/CooperativeAssignor.ts; embedded: log/embedded/EmbeddedGroup.ts). Pure: no I/O, no
 * Kafka client, so the embedded log loads nothing of Kafka's.
 *
 * Task-aware. A Kafka Streams task is (sub-topology, partition number) and reads the same
 * partition NUMBER of each of its co-partitioned input topics, so this assigns partition numbers,
 * not single partitions: all partitions numbered n of the topics subscribed by the same members
 * (a "topic group", normally every subscribed topic) go to one member together. Otherwise a join
 * task would get its stream partition on one member and its table partition on another.
 * Topics of a group may have different partition counts: number n then covers only the topics
 * that have a partition n (it weighs less, and balancing counts that).
 *
 * Balanced: within a topic group every member gets floor or ceil of numbers / members (members
 * already owning more get the ceil first); numbers that must be handed out go heaviest first to
 * the member with the fewest numbers, then the fewest partitions.
 *
 * Sticky and cooperative, as Kafka's CooperativeStickyAssignor: a member keeps the numbers it
 * owns up to its quota; a number that must move is first only taken from its owner (left out of
 * the owner's assignment, so the owner revokes it and rejoins) and is handed to its new owner in
 * a later round, once no other member owns any partition of it. No member ever gives up
 * partitions it keeps, so only moved numbers pause, and no partition is ever owned twice.
 */

export interface MemberSubscription {
  topics: string[];
  /** Partitions the member owns now (what it was assigned and has not revoked). */
  owned: TopicPartition[];
}

interface NumberUnit {
  number: number;
  partitions: TopicPartition[];
}

/**
 * members: member id -> subscription with owned partitions; partitionCounts: topic -> count
 * (topics missing here do not exist yet). Returns member id -> partitions to own now, for every
 * member (possibly none).
 */
export function assignPartitionNumbers(
  members: ReadonlyMap<string, MemberSubscription>,
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, TopicPartition[]> {
  const memberIds = [...members.keys()].sort();
  const result = new Map<string, TopicPartition[]>(memberIds.map((id) => [id, []]));
  /** Partition -> members claiming to own it (normally one; two after a lost session). */
  const claims = new Map<string, string[]>();
  for (const id of memberIds) {
    for (const tp of members.get(id)!.owned) {
      const key = partitionKey(tp);
      const list = claims.get(key);
      if (!list) claims.set(key, [id]);
      else if (!list.includes(id)) list.push(id);
    }
  }
  const numbers = new Map<string, number>(memberIds.map((id) => [id, 0]));
  const load = new Map<string, number>(memberIds.map((id) => [id, 0]));

  for (const { subscribers, units } of topicGroups(memberIds, members, partitionCounts)) {
    const target = placeNumbers(subscribers, units, claims, numbers, load);
    for (const unit of units) {
      const owner = target.get(unit);
      if (owner !== undefined) result.get(owner)!.push(...grantable(unit, owner, claims));
    }
  }
  return result;
}

/** Topics grouped by the exact set of members subscribing to them; each group's numbers. */
function topicGroups(
  memberIds: string[],
  members: ReadonlyMap<string, MemberSubscription>,
  partitionCounts: ReadonlyMap<string, number>,
): { subscribers: string[]; units: NumberUnit[] }[] {
  const groups = new Map<string, { subscribers: string[]; topics: string[] }>();
  for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!(count > 0)) continue;
    const subscribers = memberIds.filter((id) => members.get(id)!.topics.includes(topic));
    if (subscribers.length === 0) continue;
    const signature = subscribers.join('\u0000');
    const group = groups.get(signature) ?? { subscribers, topics: [] };
    group.topics.push(topic);
    groups.set(signature, group);
  }
  return [...groups.values()].map(({ subscribers, topics }) => {
    const max = Math.max(...topics.map((t) => partitionCounts.get(t)!));
    const units: NumberUnit[] = [];
    for (let number = 0; number < max; number++) {
      units.push({ number, partitions: topics.filter((t) => partitionCounts.get(t)! > number).map((topic) => ({ topic, partition: number })) });
    }
    return { subscribers, units };
  });
}

/** Chooses the member of each number: sticky up to quota, then the least loaded. */
function placeNumbers(
  subscribers: string[],
  units: NumberUnit[],
  claims: Map<string, string[]>,
  numbers: Map<string, number>,
  load: Map<string, number>,
): Map<NumberUnit, string> {
  // A number's previous owner: the subscriber claiming most of its partitions.
  const ownedUnits = new Map<string, NumberUnit[]>(subscribers.map((id) => [id, []]));
  for (const unit of units) {
    const counts = new Map<string, number>();
    for (const tp of unit.partitions) {
      for (const id of claims.get(partitionKey(tp)) ?? []) if (ownedUnits.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    let best: string | undefined;
    for (const id of subscribers) if ((counts.get(id) ?? 0) > (best === undefined ? 0 : counts.get(best)!)) best = id;
    if (best !== undefined) ownedUnits.get(best)!.push(unit);
  }

  const byOwned = [...subscribers].sort((a, b) => ownedUnits.get(b)!.length - ownedUnits.get(a)!.length || (a < b ? -1 : 1));
  const base = Math.floor(units.length / subscribers.length);
  let extra = units.length - base * subscribers.length;
  const quota = new Map<string, number>();
  for (const id of byOwned) {
    quota.set(id, base + (extra > 0 ? 1 : 0));
    if (extra > 0) extra--;
  }

  const target = new Map<NumberUnit, string>();
  const here = new Map<string, number>(subscribers.map((id) => [id, 0]));
  const place = (unit: NumberUnit, id: string) => {
    target.set(unit, id);
    here.set(id, here.get(id)! + 1);
    numbers.set(id, numbers.get(id)! + 1);
    load.set(id, load.get(id)! + unit.partitions.length);
  };
  // 1. Keep owned numbers up to the quota (lowest numbers first).
  for (const id of byOwned) {
    for (const unit of ownedUnits.get(id)!) if (here.get(id)! < quota.get(id)!) place(unit, id);
  }
  // 2. The rest, heaviest first, to the subscriber under quota with the fewest numbers, then partitions.
  const rest = units.filter((u) => !target.has(u)).sort((a, b) => b.partitions.length - a.partitions.length || a.number - b.number);
  const lighter = (a: string, b: string) => here.get(a)! - here.get(b)! || numbers.get(a)! - numbers.get(b)! || load.get(a)! - load.get(b)! || (a < b ? -1 : 1);
  for (const unit of rest) {
    const under = subscribers.filter((id) => here.get(id)! < quota.get(id)!);
    place(unit, (under.length > 0 ? under : subscribers).sort(lighter)[0]!);
  }
  return target;
}

/**
 * What `owner` may own of a number now: the partitions it already owns, plus the free ones only
 * if no other member still owns a partition of that number (it moves whole, after the revoke).
 */
function grantable(unit: NumberUnit, owner: string, claims: Map<string, string[]>): TopicPartition[] {
  const kept: TopicPartition[] = [];
  const free: TopicPartition[] = [];
  let heldElsewhere = false;
  for (const tp of unit.partitions) {
    const claimants = claims.get(partitionKey(tp));
    if (!claimants) free.push(tp);
    else if (claimants.includes(owner)) kept.push(tp);
    else heldElsewhere = true;
  }
  return heldElsewhere ? kept : kept.concat(free);
}
