import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { uniqueName } from '../log/log-contract.js';
import { expectCoPartitioned, expectExactlyOnce, GroupMember, journalProblems, produceRound, until, type JournalEntry } from '../log/support/group-member.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';

/**
 * Issue 13 groundwork on the real broker: the group leader's assignor (log/TaskAssignor.ts via
 * CooperativeAssignor.ts) hands out partition NUMBERS, so two members of one group subscribed to
 * two co-partitioned topics each get the same numbers of both topics (a join task's stream and
 * table partition on one member), and a rebalance moves whole numbers cooperatively.
 */
describe('Kafka consumer group: co-partitioned assignment on a real broker', () => {
  let log: KafkaLog;

  beforeAll(async () => {
    log = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('group-copartition'), sessionTimeoutMs: 6000 });
  });

  afterAll(async () => {
    await log?.close();
  });

  it('two members get the same partition numbers of both topics; each record is processed once', async () => {
    const inputs = [uniqueName('orders'), uniqueName('payments')];
    const output = uniqueName('joined');
    for (const topic of inputs) await log.ensureTopic(topic, { partitions: 4 });
    await log.ensureTopic(output, { partitions: 1 });
    const groupId = uniqueName('copartition-g');
    const journal: JournalEntry[] = [];
    const expected = await produceRound(log, inputs, 1, 40);

    const a = new GroupMember('A', log, groupId, inputs, output, journal);
    const b = new GroupMember('B', log, groupId, inputs, output, journal);
    await a.start();
    await until(() => a.owned.size === 8, 'A to own all 8 partitions', 30_000);
    await b.start();
    await until(() => a.owned.size === 4 && b.owned.size === 4, 'a 4/4 split', 30_000);
    expectCoPartitioned([a, b], inputs, 4);
    // A kept two numbers throughout and gave the other two up whole, once.
    expect(journal.filter((e) => e.member === 'A').map((e) => e.kind)).toEqual(['+', '-']);
    expect(journal.filter((e) => e.member === 'B')).toEqual([{ member: 'B', kind: '+', partitions: [...b.owned].sort() }]);

    expected.push(...(await produceRound(log, inputs, 2, 40)));
    await until(() => a.processed + b.processed === expected.length, 'rounds 1 and 2 processed', 30_000);
    expect(a.processed).toBeGreaterThan(0);
    expect(b.processed).toBeGreaterThan(0);
    await b.close();
    await a.close();

    expect(journalProblems(journal)).toEqual([]);
    expect([...a.violations, ...b.violations]).toEqual([]);
    expect([...a.commitErrors, ...b.commitErrors]).toEqual([]);
    await expectExactlyOnce(log, output, inputs, expected, groupId);
  });
});
