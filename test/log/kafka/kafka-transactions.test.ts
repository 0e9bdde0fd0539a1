import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Admin } from '@platformatic/kafka';
import type { LogRecord } from '../../../log/Log.js';
import { openKafkaLog, type KafkaLog } from '../../../log/kafka/KafkaLog.js';
import { noopListener, pollUntil, readAll, uniqueName } from '../log-contract.js';
import { testKafkaBrokers } from '../../support/kafka-broker.js';
import { childLines } from '../../support/child-lines.js';

const values = (records: LogRecord[]) => records.map((r) => r.value!.toString()).sort();

/** Kafka transactions (EOS v2) through the Log interface, on a real broker. */
describe('KafkaLog transactions on a real broker', () => {
  let log: KafkaLog;
  let admin: Admin;

  beforeAll(async () => {
    log = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('txn'), sessionTimeoutMs: 3000 });
    admin = new Admin({ clientId: 'txn-test', bootstrapBrokers: testKafkaBrokers().split(',') });
  });

  afterAll(async () => {
    await log?.close();
    await admin?.close();
  });

  it('commits outputs with the input offsets; an abort after the records reached the broker hides them and keeps the old offsets', async () => {
    const input = uniqueName('txn-in');
    const output = uniqueName('txn-out');
    const groupId = uniqueName('txn-g');
    await log.ensureTopic(input, { partitions: 2 });
    await log.ensureTopic(output, { partitions: 2 });
    await log.produce(Array.from({ length: 20 }, (_, i) => ({ topic: input, key: Buffer.from(`k${i}`), value: Buffer.from(`in-${i}`) })));

    const consumer = log.createConsumer({ groupId });
    const producer = await log.createTransactionalProducer(uniqueName('txn-id'));
    const reader = log.createConsumer({ groupId: uniqueName('txn-reader') });
    try {
      await consumer.subscribe([input], noopListener);
      const polled = await pollUntil(consumer, (rs) => rs.length >= 20);
      expect(polled).toHaveLength(20);
      const next = (partition: number) => polled.filter((r) => r.partition === partition).at(-1)!.offset + 1;

      // Committed: the outputs and the consumer's position, in one transaction.
      const tx = await producer.begin();
      tx.produce(polled.filter((r) => r.partition === 0).map((r) => ({ topic: output, key: r.key, value: Buffer.from(`out-${r.value}`) })));
      tx.sendOffsets(consumer, [{ topic: input, partition: 0, offset: next(0) }]);
      const metadata = await tx.commit();
      expect(metadata).toHaveLength(polled.filter((r) => r.partition === 0).length);

      // Aborted: produced (and sent to the broker) with offsets, then aborted.
      const aborted = await producer.begin();
      aborted.produce(polled.filter((r) => r.partition === 1).map((r) => ({ topic: output, key: r.key, value: Buffer.from(`aborted-${r.value}`) })));
      aborted.sendOffsets(consumer, [{ topic: input, partition: 1, offset: next(1) }]);
      const endsBefore = [await log.endOffset({ topic: output, partition: 0 }), await log.endOffset({ topic: output, partition: 1 })];
      await aborted.abort();

      const committed = await log.committedOffsets(groupId, [0, 1].map((partition) => ({ topic: input, partition })));
      expect(committed.get(`${input}:0`)).toBe(next(0));
      expect(committed.has(`${input}:1`)).toBe(false);

      // read_committed consumer and direct reads see only the committed outputs.
      const expected = values(polled.filter((r) => r.partition === 0)).map((v) => `out-${v}`).sort();
      await reader.subscribe([output], noopListener);
      const seen = await pollUntil(reader, (rs) => rs.length >= expected.length);
      expect(values(seen)).toEqual(expected);
      expect(await reader.poll(100, 500)).toEqual([]);
      // The aborted records took offsets (they did reach the broker) but are skipped.
      const endsAfter = [await log.endOffset({ topic: output, partition: 0 }), await log.endOffset({ topic: output, partition: 1 })];
      expect(endsAfter[0]! + endsAfter[1]!).toBeGreaterThan(endsBefore[0]! + endsBefore[1]!);
      const all = [...(await readAll(log, { topic: output, partition: 0 })), ...(await readAll(log, { topic: output, partition: 1 }))];
      expect(values(all)).toEqual(expected);
    } finally {
      await reader.close();
      await producer.close();
      await consumer.close();
    }

    // A new member of the group resumes where the transaction committed: partition 0 is done,
    // partition 1 (aborted) is read again from the start.
    const again = log.createConsumer({ groupId });
    try {
      await again.subscribe([input], noopListener);
      const inputs = await readAll(log, { topic: input, partition: 1 });
      const replay = await pollUntil(again, (rs) => rs.length >= inputs.length);
      expect(replay.every((r) => r.partition === 1)).toBe(true);
      expect(values(replay)).toEqual(values(inputs));
    } finally {
      await again.close();
    }
  });

  it('fences a zombie: a second producer with the same transactional id aborts the first one’s open transaction', async () => {
    const output = uniqueName('txn-zombie');
    await log.ensureTopic(output, { partitions: 1 });
    const transactionalId = uniqueName('txn-zombie-id');
    const zombie = await log.createTransactionalProducer(transactionalId);
    const successor = await log.createTransactionalProducer(transactionalId);
    try {
      const old = await zombie.begin();
      old.produce([{ topic: output, key: null, value: Buffer.from('from-zombie') }]);
      const tp = { topic: output, partition: 0 };
      const deadline = Date.now() + 10_000;
      // Wait until the zombie's record is on the broker (high watermark, read_uncommitted).
      const highWatermark = async () =>
        Number((await admin.listOffsets({ topics: [{ name: output, partitions: [{ partitionIndex: 0, timestamp: -1n }] }], isolationLevel: 0 }))[0]!.partitions[0]!.offset);
      while ((await highWatermark()) < 1 && Date.now() < deadline);
      expect(await highWatermark()).toBe(1);
      expect(await log.endOffset(tp)).toBe(0);

      const fresh = await successor.begin();
      fresh.produce([{ topic: output, key: null, value: Buffer.from('from-successor') }]);
      // The successor starts as a restarted instance would: its InitProducerId bumps the epoch,
      // which aborts the zombie's open transaction and fences the zombie.
      await fresh.commit();
      await expect(old.commit()).rejects.toThrow(/PRODUCER_FENCED|INVALID_PRODUCER_EPOCH/);

      while ((await log.endOffset(tp)) < 3 && Date.now() < deadline);
      expect(values(await readAll(log, tp))).toEqual(['from-successor']);
    } finally {
      await zombie.close();
      await successor.close();
    }
  });
});

describe('exactly-once across a crash, on a real broker', () => {
  let admin: Admin;
  beforeAll(() => {
    admin = new Admin({ clientId: 'eos-test', bootstrapBrokers: testKafkaBrokers().split(',') });
  });
  afterAll(async () => {
    await admin?.close();
  });

  it('a member SIGKILLed with a transaction open: the survivor takes over and every input is output exactly once', async () => {
    const brokers = testKafkaBrokers();
    const log = await openKafkaLog({ brokers: brokers.split(','), clientId: uniqueName('eos'), sessionTimeoutMs: 3000, transactionTimeoutMs: 3000 });
    const input = uniqueName('eos-in');
    const output = uniqueName('eos-out');
    const groupId = uniqueName('eos-g');
    await log.ensureTopic(input, { partitions: 2 });
    await log.ensureTopic(output, { partitions: 2 });
    const inputs = Array.from({ length: 120 }, (_, i) => `event-${i}`);
    await log.produce(inputs.map((v) => ({ topic: input, key: Buffer.from(v), value: Buffer.from(v) })));

    const child = spawn(process.execPath, ['--import', 'tsx', 'test/log/kafka/fixtures/txn-member.ts', brokers, input, output, groupId, uniqueName('eos-child'), '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: string[] = [];
    const open = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line === 'open') resolve();
      });
      child.once('exit', () => reject(new Error(`child exited before opening a transaction: ${stderr}`)));
    });
    const consumer = log.createConsumer({ groupId });
    const producer = await log.createTransactionalProducer(uniqueName('eos-survivor'));
    try {
      await open;
      expect(lines[0]).toMatch(/^committed \d+$/);
      // The open transaction's outputs are on the broker (high watermark) but not stable (LSO).
      let unstable = 0;
      for (const partition of [0, 1]) {
        const hw = Number((await admin.listOffsets({ topics: [{ name: output, partitions: [{ partitionIndex: partition, timestamp: -1n }] }], isolationLevel: 0 }))[0]!.partitions[0]!.offset);
        unstable += hw - (await log.endOffset({ topic: output, partition }));
      }
      expect(unstable).toBeGreaterThan(0);
      child.kill('SIGKILL');
      await exited;

      // The survivor joins once the dead member's session has expired, resumes from the committed
      // offsets, and transforms the rest, one transaction per poll.
      await consumer.subscribe([input], noopListener);
      const deadline = Date.now() + 40_000;
      const done = async () => {
        const committed = await log.committedOffsets(groupId, [0, 1].map((partition) => ({ topic: input, partition })));
        let total = 0;
        for (const partition of [0, 1]) total += (committed.get(`${input}:${partition}`) ?? 0) - (await log.beginningOffset({ topic: input, partition }));
        return total >= inputs.length;
      };
      while (!(await done()) && Date.now() < deadline) {
        const records = await consumer.poll(50, 500);
        if (records.length === 0) continue;
        const tx = await producer.begin();
        tx.produce(records.map((r) => ({ topic: output, key: r.key, value: r.value })));
        const next = new Map<number, number>();
        for (const r of records) next.set(r.partition, r.offset + 1);
        tx.sendOffsets(consumer, [...next].map(([partition, offset]) => ({ topic: input, partition, offset })));
        await tx.commit();
      }

      // The dead member's open transaction is aborted by the broker (its 3 s timeout); then the
      // output holds each input once: its first commit, plus the survivor's work.
      const outputs: LogRecord[] = [];
      for (const partition of [0, 1]) {
        const tp = { topic: output, partition };
        const end = Date.now() + 20_000;
        // The LSO stays behind the aborted transaction until its abort marker is written.
        while ((await log.endOffset(tp)) < Number((await admin.listOffsets({ topics: [{ name: output, partitions: [{ partitionIndex: partition, timestamp: -1n }] }], isolationLevel: 0 }))[0]!.partitions[0]!.offset) && Date.now() < end);
        outputs.push(...(await readAll(log, tp)));
      }
      expect(values(outputs)).toEqual([...inputs].sort());
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await producer.close();
      await consumer.close();
      await log.close();
    }
  }, 90_000);
});

describe('zombie members under EOS v2 (generation fencing), on a real broker', () => {
  it('a member frozen past its session cannot commit its transaction after its partitions moved on', async () => {
    const brokers = testKafkaBrokers();
    const log = await openKafkaLog({ brokers: brokers.split(','), clientId: uniqueName('zombie-member'), sessionTimeoutMs: 3000 });
    const input = uniqueName('zm-in');
    const output = uniqueName('zm-out');
    const groupId = uniqueName('zm-g');
    await log.ensureTopic(input, { partitions: 2 });
    await log.ensureTopic(output, { partitions: 2 });
    const inputs = Array.from({ length: 40 }, (_, i) => `event-${i}`);
    await log.produce(inputs.map((v) => ({ topic: input, key: Buffer.from(v), value: Buffer.from(v) })));

    // Distinct transactional ids: only the group generation can fence the zombie (EOS v2).
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/log/kafka/fixtures/frozen-member.ts', brokers, input, output, groupId, uniqueName('zm-zombie')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const frozen = childLines(child);
    const waitForLine = async (match: RegExp) => frozen.lines[await frozen.waitFor(match)]!;
    const consumer = log.createConsumer({ groupId });
    const producer = await log.createTransactionalProducer(uniqueName('zm-survivor'));
    try {
      await waitForLine(/^ready$/);
      child.kill('SIGSTOP');

      // The survivor takes everything over once the frozen member's session has expired.
      await consumer.subscribe([input], noopListener);
      const deadline = Date.now() + 30_000;
      let processed = 0;
      while (processed < inputs.length && Date.now() < deadline) {
        const records = await consumer.poll(100, 500);
        if (records.length === 0) continue;
        const tx = await producer.begin();
        tx.produce(records.map((r) => ({ topic: output, key: r.key, value: r.value })));
        const next = new Map<number, number>();
        for (const r of records) next.set(r.partition, r.offset + 1);
        tx.sendOffsets(consumer, [...next].map(([partition, offset]) => ({ topic: input, partition, offset })));
        await tx.commit();
        processed += records.length;
      }
      expect(processed).toBe(inputs.length);

      // The zombie wakes up and tries to commit its outputs with the offsets: refused.
      child.kill('SIGCONT');
      child.stdin!.write('go\n');
      const outcome = await waitForLine(/^commit/);
      // Refused by the broker (TxnOffsetCommit with a stale member) or, if a heartbeat told the
      // zombie first, by the consumer itself.
      expect(outcome).toMatch(/^commit failed: .*(UNKNOWN_MEMBER_ID|ILLEGAL_GENERATION|FENCED_INSTANCE_ID|lost its membership)/);

      for (const partition of [0, 1]) {
        const tp = { topic: output, partition };
        const end = Date.now() + 10_000;
        const hw = async () => Number((await admin.listOffsets({ topics: [{ name: output, partitions: [{ partitionIndex: partition, timestamp: -1n }] }], isolationLevel: 0 }))[0]!.partitions[0]!.offset);
        while ((await log.endOffset(tp)) < (await hw()) && Date.now() < end);
      }
      const outputs = [...(await readAll(log, { topic: output, partition: 0 })), ...(await readAll(log, { topic: output, partition: 1 }))];
      expect(values(outputs)).toEqual([...inputs].sort());
      const committed = await log.committedOffsets(groupId, [0, 1].map((partition) => ({ topic: input, partition })));
      expect((committed.get(`${input}:0`) ?? 0) + (committed.get(`${input}:1`) ?? 0)).toBe(inputs.length);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await producer.close();
      await consumer.close();
      await log.close();
    }
  }, 90_000);

  let admin: Admin;
  beforeAll(() => {
    admin = new Admin({ clientId: 'zombie-member-test', bootstrapBrokers: testKafkaBrokers().split(',') });
  });
  afterAll(async () => {
    await admin?.close();
  });
});
