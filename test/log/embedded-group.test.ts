import { once } from 'node:events';
import type { Log } from '../../log/Log.js';
import { CommitFencedError, openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { EmbeddedLogThread } from '../../log/remote/EmbeddedLogThread.js';
import { startModuleWorker } from '../../log/remote/StartModuleWorker.js';
import { noopListener, pollUntil, uniqueName } from './log-contract.js';
import { expectCoPartitioned, expectExactlyOnce, GroupMember, journalProblems, produceRound, until, type JournalEntry } from './support/group-member.js';
import type { WorkerReport } from './support/group-member-worker.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

/**
 * Consumer groups with several members on the embedded log (issue 13: each stream thread is a
 * member): directly, through RemoteLogs to a log thread as the workers use it, and with a member
 * whose thread dies. Members split the partitions by partition number (co-partitioned topics
 * together), rebalance cooperatively, and with transactional commits every input record is
 * written exactly once across the members.
 */

describe('embedded log: a consumer group with several members in one process', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('embedded-group');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
  });

  afterEach(async () => {
    await log.close();
    removeDir(dir);
  });

  it('two members split co-partitioned topics by partition number; the one that closes hands its numbers over; each record once', async () => {
    const inputs = ['orders', 'payments'];
    for (const topic of inputs) await log.ensureTopic(topic, { partitions: 4 });
    await log.ensureTopic('out', { partitions: 1 });
    const groupId = 'two-members';
    const journal: JournalEntry[] = [];
    const expected = await produceRound(log, inputs, 1, 40);
    const a = new GroupMember('A', log, groupId, inputs, 'out', journal);
    const b = new GroupMember('B', log, groupId, inputs, 'out', journal);
    await a.start();
    await until(() => a.owned.size === 8, 'A to own all 8 partitions');

    await b.start();
    await until(() => a.owned.size === 4 && b.owned.size === 4, 'a 4/4 split');
    expectCoPartitioned([a, b], inputs, 4);
    // Cooperative: A gave up only the numbers that moved, once; B got them after.
    const moved = [...b.owned].sort();
    expect(journal).toEqual([
      { member: 'A', kind: '+', partitions: [0, 1, 2, 3].flatMap((n) => inputs.map((t) => `${t}:${n}`)).sort() },
      { member: 'A', kind: '-', partitions: moved },
      { member: 'B', kind: '+', partitions: moved },
    ]);

    expected.push(...(await produceRound(log, inputs, 2, 40)));
    await until(() => a.processed + b.processed === expected.length, 'round 2 processed');
    expect(b.processed).toBeGreaterThan(0);

    const aHad = [...a.owned].sort();
    const before = journal.length;
    await a.close();
    await until(() => b.owned.size === 8, 'B to take over A’s numbers');
    // A's onRevoked (in close) ended before B's onAssigned of the same partitions began.
    expect(journal.slice(before)).toEqual([
      { member: 'A', kind: '-', partitions: aHad },
      { member: 'B', kind: '+', partitions: aHad },
    ]);

    expected.push(...(await produceRound(log, inputs, 3, 40)));
    await until(() => a.processed + b.processed === expected.length, 'round 3 processed by B');
    await b.close();

    expect(journalProblems(journal)).toEqual([]);
    expect([...a.violations, ...b.violations]).toEqual([]);
    expect([...a.commitErrors, ...b.commitErrors]).toEqual([]);
    await expectExactlyOnce(log, 'out', inputs, expected, groupId);
  });

  it('three members, topics of different partition counts, one leaving and one joining while records keep coming', async () => {
    const inputs = ['clicks', 'users'];
    await log.ensureTopic('clicks', { partitions: 6 });
    await log.ensureTopic('users', { partitions: 3 });
    await log.ensureTopic('out3', { partitions: 1 });
    const groupId = 'three-members';
    const journal: JournalEntry[] = [];
    const members = ['A', 'B', 'C'].map((name) => new GroupMember(name, log, groupId, inputs, 'out3', journal));
    for (const m of members) await m.start();
    const [a, b, c] = members as [GroupMember, GroupMember, GroupMember];
    await until(() => members.every((m) => m.numbers('clicks').length === 2), 'two numbers each');
    expectCoPartitioned(members, ['clicks'], 6);
    // users has numbers 0-2 only: each owner of those has both topics' partition.
    for (const m of members) for (const n of m.numbers('users')) expect(m.numbers('clicks')).toContain(n);
    expect(members.map((m) => m.owned.size).reduce((x, y) => x + y, 0)).toBe(9);

    const expected: string[] = [];
    const processed = () => members.reduce((sum, m) => sum + m.processed, 0) + (d?.processed ?? 0);
    let d: GroupMember | undefined;
    for (let round = 1; round <= 6; round++) {
      expected.push(...(await produceRound(log, inputs, round, 30)));
      if (round === 2) await c.close();
      if (round === 4) {
        d = new GroupMember('D', log, groupId, inputs, 'out3', journal);
        await d.start();
      }
    }
    await until(() => processed() === expected.length, 'every record processed');
    await until(() => [a, b, d!].every((m) => m.numbers('clicks').length === 2), 'two numbers each after C left and D joined');
    expectCoPartitioned([a, b, d!], ['clicks'], 6);
    for (const m of [a, b, d!]) await m.close();

    expect(journalProblems(journal)).toEqual([]);
    expect([...members, d!].flatMap((m) => m.violations)).toEqual([]);
    expect([...members, d!].flatMap((m) => m.commitErrors)).toEqual([]);
    await expectExactlyOnce(log, 'out3', inputs, expected, groupId);
  });

  it('a subscribed topic created later joins each member on the numbers it already has, nothing revoked', async () => {
    await log.ensureTopic('early', { partitions: 4 });
    const journal: JournalEntry[] = [];
    const a = new GroupMember('A', log, 'late-topic', ['early', 'late'], 'late-out', journal);
    const b = new GroupMember('B', log, 'late-topic', ['early', 'late'], 'late-out', journal);
    await log.ensureTopic('late-out', { partitions: 1 });
    await a.start();
    await b.start();
    await until(() => a.owned.size === 2 && b.owned.size === 2, 'a 2/2 split of early');
    const revokesBefore = journal.filter((e) => e.kind === '-').length;
    await log.ensureTopic('late', { partitions: 4 });
    await until(() => a.owned.size === 4 && b.owned.size === 4, 'late assigned');
    expectCoPartitioned([a, b], ['early', 'late'], 4);
    expect(journal.filter((e) => e.kind === '-').length).toBe(revokesBefore);
    await a.close();
    await b.close();
    expect(journalProblems(journal)).toEqual([]);
  });

  it('a listener that fails in onRevoked fails that poll; the next poll revokes again and the partition moves', async () => {
    await log.ensureTopic('flaky', { partitions: 2 });
    const revokes: string[] = [];
    let failures = 1;
    const a = log.createConsumer({ groupId: 'flaky-g' });
    await a.subscribe(['flaky'], {
      async onAssigned() {},
      async onRevoked(tps) {
        revokes.push(tps.map((tp) => tp.partition).join(','));
        if (failures-- > 0) throw new Error('commit failed in onRevoked');
      },
    });
    await a.poll(1, 0);
    expect(a.assignment()).toHaveLength(2);
    const b = log.createConsumer({ groupId: 'flaky-g' });
    await b.subscribe(['flaky'], noopListener);
    await expect(a.poll(1, 0)).rejects.toThrow('commit failed in onRevoked');
    // Not given up: still a's, so b cannot have it yet.
    expect(a.assignment()).toHaveLength(2);
    await b.poll(1, 0);
    expect(b.assignment()).toEqual([]);
    await a.poll(1, 0);
    expect(revokes).toEqual(['1', '1']);
    expect(a.assignment()).toEqual([{ topic: 'flaky', partition: 0 }]);
    await b.poll(1, 0);
    expect(b.assignment()).toEqual([{ topic: 'flaky', partition: 1 }]);
    await a.close();
    await b.close();
  });

  it('refuses the commit of a member that lost the partition (CommitFencedError), records and offsets alike', async () => {
    await log.ensureTopic('fence-in', { partitions: 1 });
    await log.ensureTopic('fence-out', { partitions: 1 });
    await log.produce([1, 2, 3].map((i) => ({ topic: 'fence-in', key: null, value: Buffer.from(`v${i}`) })));
    const tp = { topic: 'fence-in', partition: 0 };
    const zombie = log.createConsumer({ groupId: 'fence' });
    await zombie.subscribe(['fence-in'], noopListener);
    expect(await pollUntil(zombie, (rs) => rs.length >= 3)).toHaveLength(3);
    const producer = await log.createTransactionalProducer('fence-tx');
    const transaction = await producer.begin();
    transaction.produce([{ topic: 'fence-out', key: null, value: Buffer.from('zombie output') }]);
    transaction.sendOffsets(zombie, [{ ...tp, offset: 3 }]);

    // Before the zombie commits, it leaves (a stream thread's session released does the same) and
    // another member takes the partition: the zombie's transaction must not land.
    await zombie.close();
    const successor = log.createConsumer({ groupId: 'fence' });
    await successor.subscribe(['fence-in'], noopListener);
    expect((await pollUntil(successor, (rs) => rs.length >= 3)).map((r) => r.offset)).toEqual([0, 1, 2]);
    const refused = await transaction.commit().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CommitFencedError);
    expect((refused as Error).message).toMatch(/does not own fence-in:0 any more/);
    expect(await log.endOffset({ topic: 'fence-out', partition: 0 })).toBe(0);
    expect((await log.committedOffsets('fence', [tp])).size).toBe(0);

    // A member that does not own a partition cannot commit it outside a transaction either.
    const bystander = log.createConsumer({ groupId: 'fence' });
    await bystander.subscribe(['fence-in'], noopListener);
    await bystander.poll(1, 0);
    expect(bystander.assignment()).toEqual([]);
    await expect(bystander.commitOffsets([{ ...tp, offset: 1 }])).rejects.toBeInstanceOf(CommitFencedError);
    // The owner's own commits go through.
    await successor.commitOffsets([{ ...tp, offset: 3 }]);
    expect((await log.committedOffsets('fence', [tp])).get('fence-in:0')).toBe(3);
    await bystander.close();
    await successor.close();
    await producer.close();
  });
});

describe('embedded log thread: members in several RemoteLogs (as stream threads reach it)', () => {
  it('three RemoteLog members split the partitions by number; one closes; each record once', async () => {
    const dir = tempDir('embedded-group-thread');
    const thread = await EmbeddedLogThread.start({ dir, cleanupIntervalMs: 0 });
    const clients: Log[] = [];
    try {
      const admin = await thread.connect();
      clients.push(admin);
      const inputs = [uniqueName('stream'), uniqueName('table')];
      const output = uniqueName('joined');
      for (const topic of inputs) await admin.ensureTopic(topic, { partitions: 6 });
      await admin.ensureTopic(output, { partitions: 1 });
      const groupId = uniqueName('remote-group');
      const journal: JournalEntry[] = [];
      const members: GroupMember[] = [];
      for (const name of ['A', 'B', 'C']) {
        const remote = await thread.connect();
        clients.push(remote);
        members.push(new GroupMember(name, remote, groupId, inputs, output, journal));
      }
      const expected = await produceRound(admin, inputs, 1, 60);
      for (const m of members) await m.start();
      await until(() => members.every((m) => m.numbers(inputs[0]!).length === 2 && m.owned.size === 4), 'two numbers of both topics each');
      expectCoPartitioned(members, inputs, 6);
      const processed = () => members.reduce((sum, m) => sum + m.processed, 0);
      await until(() => processed() === expected.length, 'round 1 processed');

      const [a, b, c] = members as [GroupMember, GroupMember, GroupMember];
      await b.close();
      await until(() => a.numbers(inputs[0]!).length === 3 && c.numbers(inputs[0]!).length === 3, 'B’s numbers split between A and C');
      expectCoPartitioned([a, c], inputs, 6);
      expected.push(...(await produceRound(admin, inputs, 2, 60)));
      await until(() => processed() === expected.length, 'round 2 processed by A and C');
      await a.close();
      await c.close();

      expect(journalProblems(journal)).toEqual([]);
      expect(members.flatMap((m) => m.violations)).toEqual([]);
      expect(members.flatMap((m) => m.commitErrors)).toEqual([]);
      await expectExactlyOnce(admin, output, inputs, expected, groupId);
    } finally {
      for (const client of clients) await client.close();
      await thread.stop();
      removeDir(dir);
    }
  });

  it('refuses, across the port with its class, the commit of a member for a partition that moved to another', async () => {
    const dir = tempDir('embedded-group-fence-remote');
    const thread = await EmbeddedLogThread.start({ dir, cleanupIntervalMs: 0 });
    const first = await thread.connect();
    const second = await thread.connect();
    try {
      const input = uniqueName('moved-in');
      const output = uniqueName('moved-out');
      await first.ensureTopic(input, { partitions: 2 });
      await first.ensureTopic(output, { partitions: 1 });
      await first.produce([0, 1].map((partition) => ({ topic: input, key: null, value: Buffer.from(`p${partition}`), partition })));
      const groupId = uniqueName('moved-g');
      const a = first.createConsumer({ groupId });
      await a.subscribe([input], noopListener);
      expect(await pollUntil(a, (rs) => rs.length >= 2)).toHaveLength(2);
      const producer = await first.createTransactionalProducer(uniqueName('moved-tx'));
      const transaction = await producer.begin();
      transaction.produce([{ topic: output, key: null, value: Buffer.from('late') }]);

      const b = second.createConsumer({ groupId });
      await b.subscribe([input], noopListener);
      await a.poll(10, 0); // a revokes the number b gets
      expect(await pollUntil(b, (rs) => rs.length >= 1)).toHaveLength(1);
      const moved = b.assignment()[0]!;
      expect(a.assignment()).toHaveLength(1);
      transaction.sendOffsets(a, [{ ...moved, offset: 1 }]);
      const refused = await transaction.commit().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(CommitFencedError);
      expect((refused as CommitFencedError).partition).toBe(`${moved.topic}:${moved.partition}`);
      expect(await first.endOffset({ topic: output, partition: 0 })).toBe(0);
      expect((await first.committedOffsets(groupId, [moved])).size).toBe(0);
      await a.close();
      await b.close();
      await producer.close();
    } finally {
      await first.close();
      await second.close();
      await thread.stop();
      removeDir(dir);
    }
  });

  it('a member whose worker thread dies (session released) loses its partitions to the survivor; each record once', async () => {
    const dir = tempDir('embedded-group-crash');
    const thread = await EmbeddedLogThread.start({ dir, cleanupIntervalMs: 0 });
    const clients: Log[] = [];
    try {
      const admin = await thread.connect();
      const survivorLog = await thread.connect();
      clients.push(admin, survivorLog);
      const inputs = [uniqueName('crash-a'), uniqueName('crash-b')];
      const output = uniqueName('crash-out');
      for (const topic of inputs) await admin.ensureTopic(topic, { partitions: 4 });
      await admin.ensureTopic(output, { partitions: 1 });
      const groupId = uniqueName('crash-group');
      const expected = await produceRound(admin, inputs, 1, 50);

      let report: WorkerReport = { owned: [], processed: 0, journal: [] };
      const port = thread.port();
      const worker = startModuleWorker(new URL('./support/group-member-worker.js', import.meta.url), {
        workerData: { port, name: 'W', groupId, topics: inputs, output },
        transferList: [port],
      });
      worker.on('message', (message: WorkerReport) => (report = message));
      await until(() => report.owned.length === 8 && report.processed === expected.length, 'the worker to own and process everything');

      const journal: JournalEntry[] = [];
      const survivor = new GroupMember('S', survivorLog, groupId, inputs, output, journal);
      await survivor.start();
      await until(() => report.owned.length === 4 && survivor.owned.size === 4, 'a 4/4 split with the worker');
      expect(report.owned.filter((key) => survivor.owned.has(key))).toEqual([]);
      // Co-partitioned on both sides: the same two numbers of both topics.
      const workerNumbers = (topic: string) => report.owned.filter((key) => key.startsWith(`${topic}:`)).map((key) => Number(key.split(':')[1]));
      expect(workerNumbers(inputs[0]!)).toEqual(workerNumbers(inputs[1]!));
      expect(survivor.numbers(inputs[0]!)).toEqual(survivor.numbers(inputs[1]!));
      expect([...workerNumbers(inputs[0]!), ...survivor.numbers(inputs[0]!)].sort()).toEqual([0, 1, 2, 3]);

      // Records keep coming while the worker's thread is killed mid-stream of commits.
      expected.push(...(await produceRound(admin, inputs, 2, 50)));
      await until(() => report.processed > 100, 'the worker to commit some of round 2');
      const exited = once(worker, 'exit');
      await worker.terminate();
      await exited;
      await until(() => survivor.owned.size === 8, 'the survivor to take over the dead member’s partitions');
      expected.push(...(await produceRound(admin, inputs, 3, 50)));
      // Written by either: what the worker committed before dying, the survivor the rest.
      const deadline = Date.now() + 20_000;
      while ((await admin.endOffset({ topic: output, partition: 0 })) < expected.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await survivor.close();

      expect(survivor.violations).toEqual([]);
      expect(survivor.commitErrors).toEqual([]);
      expect(journalProblems(journal)).toEqual([]);
      await expectExactlyOnce(admin, output, inputs, expected, groupId);
    } finally {
      for (const client of clients) await client.close();
      await thread.stop();
      removeDir(dir);
    }
  });
});
