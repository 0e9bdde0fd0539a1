import { partitionKey, type TopicPartition } from '../../log/Log.js';
import { assignCooperative } from '../../log/kafka/CooperativeAssignor.js';
import { assignPartitionNumbers, type MemberSubscription } from '../../log/TaskAssignor.js';

/** member -> sorted "topic:partition" list, for readable expectations. */
function keys(result: Map<string, TopicPartition[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [id, tps] of result) out[id] = tps.map(partitionKey).sort();
  return out;
}

function numbersOf(tps: TopicPartition[]): number[] {
  return [...new Set(tps.map((tp) => tp.partition))].sort((a, b) => a - b);
}

/** Every member's partitions of each number cover every subscribed topic that has that number. */
function expectCoPartitioned(result: Map<string, TopicPartition[]>, counts: Map<string, number>): void {
  const ownerOf = new Map<number, string>();
  for (const [id, tps] of result) {
    for (const tp of tps) {
      const owner = ownerOf.get(tp.partition);
      if (owner !== undefined) expect(`${tp.partition}->${owner}`).toBe(`${tp.partition}->${id}`);
      ownerOf.set(tp.partition, id);
    }
    for (const n of numbersOf(tps)) {
      const expected = [...counts].filter(([, c]) => c > n).map(([t]) => `${t}:${n}`).sort();
      expect(tps.filter((tp) => tp.partition === n).map(partitionKey).sort()).toEqual(expected);
    }
  }
}

function subscriptions(entries: [string, string[], TopicPartition[]][]): Map<string, MemberSubscription> {
  return new Map(entries.map(([id, topics, owned]) => [id, { topics, owned }]));
}

/**
 * The cooperative protocol as both logs run it: every member owns what it was assigned (the
 * assignor only grants kept or free partitions), a member that lost partitions revokes them and
 * the group assigns again. Returns the rounds it took to settle; checks on every round that no
 * partition is granted to two members or taken while another member still owns it.
 */
function settle(topics: Map<string, string[]>, counts: Map<string, number>, owned: Map<string, TopicPartition[]>): { rounds: number; moved: string[] } {
  const moved: string[] = [];
  // Members that left own nothing any more.
  for (const id of [...owned.keys()]) if (!topics.has(id)) owned.delete(id);
  for (let round = 1; round <= 10; round++) {
    const result = assignPartitionNumbers(subscriptions([...topics].map(([id, t]) => [id, t, owned.get(id) ?? []])), counts);
    const granted = new Map<string, string>();
    let revoked = false;
    for (const [id, tps] of result) {
      const before = new Set((owned.get(id) ?? []).map(partitionKey));
      for (const tp of tps) {
        const key = partitionKey(tp);
        expect(granted.get(key)).toBeUndefined();
        granted.set(key, id);
        if (!before.has(key)) {
          // Newly granted: nobody else may own it at this point.
          for (const [other, theirs] of owned) if (other !== id) expect(theirs.map(partitionKey)).not.toContain(key);
          moved.push(`${key}->${id}`);
        }
      }
      const now = new Set(tps.map(partitionKey));
      if ([...before].some((key) => !now.has(key))) revoked = true;
    }
    for (const [id, tps] of result) owned.set(id, tps);
    if (!revoked) return { rounds: round, moved };
  }
  throw new Error('the assignment did not settle in 10 rounds');
}

describe('task-aware cooperative assignor (partition numbers)', () => {
  const two = new Map([
    ['orders', 6],
    ['payments', 6],
  ]);

  it('gives each member whole partition numbers of co-partitioned topics, balanced', () => {
    const result = assignPartitionNumbers(
      subscriptions([
        ['a', ['orders', 'payments'], []],
        ['b', ['orders', 'payments'], []],
      ]),
      two,
    );
    expectCoPartitioned(result, two);
    expect(numbersOf(result.get('a')!)).toHaveLength(3);
    expect(numbersOf(result.get('b')!)).toHaveLength(3);
    expect(result.get('a')!.length + result.get('b')!.length).toBe(12);
    // Kafka mode's entry point is the same function.
    expect(keys(assignCooperative(subscriptions([...result].map(([id, tps]) => [id, ['orders', 'payments'], tps])), two))).toEqual(keys(result));
  });

  it('balances numbers within one across 1 to 7 members and 1 to 13 numbers', () => {
    for (let members = 1; members <= 7; members++) {
      for (let partitions = 1; partitions <= 13; partitions++) {
        const counts = new Map([
          ['x', partitions],
          ['y', partitions],
        ]);
        const ids = Array.from({ length: members }, (_, i) => `m${i}`);
        const result = assignPartitionNumbers(subscriptions(ids.map((id) => [id, ['x', 'y'], []])), counts);
        const sizes = ids.map((id) => numbersOf(result.get(id)!).length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(partitions);
        expectCoPartitioned(result, counts);
      }
    }
  });

  it('with topics of different partition counts, keeps numbers together and balances partitions', () => {
    const counts = new Map([
      ['big', 4],
      ['small', 2],
    ]);
    const result = assignPartitionNumbers(
      subscriptions([
        ['a', ['big', 'small'], []],
        ['b', ['big', 'small'], []],
      ]),
      counts,
    );
    expectCoPartitioned(result, counts);
    // Numbers 0 and 1 weigh two partitions, 2 and 3 one: three partitions each.
    expect(result.get('a')!.length).toBe(3);
    expect(result.get('b')!.length).toBe(3);
    expect(keys(result)).toEqual({ a: ['big:0', 'big:2', 'small:0'], b: ['big:1', 'big:3', 'small:1'] });
  });

  it('a joining member gets numbers only after their owner revoked them; the owner keeps the rest throughout', () => {
    const all = [0, 1, 2, 3, 4, 5].flatMap((partition) => [
      { topic: 'orders', partition },
      { topic: 'payments', partition },
    ]);
    const round1 = assignPartitionNumbers(
      subscriptions([
        ['a', ['orders', 'payments'], all],
        ['b', ['orders', 'payments'], []],
      ]),
      two,
    );
    // a keeps its lowest three numbers; 3, 4, 5 go to nobody yet (a must revoke them first).
    expect(keys(round1)).toEqual({ a: ['orders:0', 'orders:1', 'orders:2', 'payments:0', 'payments:1', 'payments:2'], b: [] });
    const round2 = assignPartitionNumbers(
      subscriptions([
        ['a', ['orders', 'payments'], round1.get('a')!],
        ['b', ['orders', 'payments'], []],
      ]),
      two,
    );
    expect(keys(round2)).toEqual({ a: keys(round1).a, b: ['orders:3', 'orders:4', 'orders:5', 'payments:3', 'payments:4', 'payments:5'] });
    // Settled: a third round changes nothing.
    const round3 = assignPartitionNumbers(
      subscriptions([
        ['a', ['orders', 'payments'], round2.get('a')!],
        ['b', ['orders', 'payments'], round2.get('b')!],
      ]),
      two,
    );
    expect(keys(round3)).toEqual(keys(round2));
  });

  it("hands a leaving member's numbers to the others at once, each keeping its own", () => {
    const topics = new Map([
      ['a', ['orders', 'payments']],
      ['b', ['orders', 'payments']],
      ['c', ['orders', 'payments']],
    ]);
    const owned = new Map<string, TopicPartition[]>();
    settle(topics, two, owned);
    const before = new Map([...owned].map(([id, tps]) => [id, tps.map(partitionKey).sort()]));
    expect([...owned.values()].map((tps) => numbersOf(tps).length)).toEqual([2, 2, 2]);
    topics.delete('b');
    const { rounds } = settle(topics, two, owned);
    expect(rounds).toBe(1); // b is gone: its numbers are free, nothing to revoke
    for (const id of ['a', 'c']) expect(owned.get(id)!.map(partitionKey)).toEqual(expect.arrayContaining(before.get(id)!));
    expect([...owned.values()].map((tps) => numbersOf(tps).length)).toEqual([3, 3]);
    expectCoPartitioned(new Map(owned), two);
  });

  it('settles in at most two rounds through random joins and leaves, co-partitioned and balanced', () => {
    const counts = new Map([
      ['t1', 8],
      ['t2', 8],
      ['t3', 5],
    ]);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const topics = new Map<string, string[]>();
    const owned = new Map<string, TopicPartition[]>();
    let next = 0;
    for (let step = 0; step < 60; step++) {
      if (topics.size <= 1 || (topics.size < 6 && random() < 0.55)) topics.set(`m${String(next++).padStart(2, '0')}`, ['t1', 't2', 't3']);
      else topics.delete([...topics.keys()][Math.floor(random() * topics.size)]!);
      const kept = new Map([...owned].filter(([id]) => topics.has(id)).map(([id, tps]) => [id, new Set(tps.map(partitionKey))]));
      const { rounds } = settle(topics, counts, owned);
      expect(rounds).toBeLessThanOrEqual(2);
      expectCoPartitioned(new Map(owned), counts);
      const sizes = [...topics.keys()].map((id) => numbersOf(owned.get(id) ?? []).length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(8);
      // Sticky: a member that stays loses numbers only when it had more than the lower share.
      for (const [id, had] of kept) {
        const now = new Set((owned.get(id) ?? []).map(partitionKey));
        const hadNumbers = new Set([...had].map((key) => key.split(':')[1]));
        if ([...had].some((key) => !now.has(key))) expect(hadNumbers.size).toBeGreaterThan(Math.floor(8 / topics.size));
      }
    }
  });

  it('reunites a number split across members (state from the per-partition assignor) without double ownership', () => {
    const topics = new Map([
      ['a', ['orders', 'payments']],
      ['b', ['orders', 'payments']],
    ]);
    // The old assignor could give orders:0 to a and payments:0 to b.
    const owned = new Map<string, TopicPartition[]>([
      ['a', [0, 1, 2, 3, 4, 5].map((partition) => ({ topic: 'orders', partition }))],
      ['b', [0, 1, 2, 3, 4, 5].map((partition) => ({ topic: 'payments', partition }))],
    ]);
    const { rounds } = settle(topics, two, owned);
    expect(rounds).toBe(2);
    expectCoPartitioned(new Map(owned), two);
    expect([...owned.values()].map((tps) => tps.length)).toEqual([6, 6]);
  });

  it('keeps topics of different subscriber sets apart: only subscribers get a topic', () => {
    const counts = new Map([
      ['shared', 2],
      ['only-b', 3],
    ]);
    const result = assignPartitionNumbers(
      subscriptions([
        ['a', ['shared'], []],
        ['b', ['shared', 'only-b'], []],
        ['c', ['missing-topic'], []],
      ]),
      counts,
    );
    expect(keys(result)).toEqual({ a: ['shared:0'], b: ['only-b:0', 'only-b:1', 'only-b:2', 'shared:1'], c: [] });
  });
});
