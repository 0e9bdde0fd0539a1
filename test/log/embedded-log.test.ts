import { Registry } from 'prom-client';
import { UnknownTopicError, type TopicPartition } from '../../log/Log.js';
import { openEmbeddedLog, ProducerFencedError, type EmbeddedLog } from '../../log/embedded/index.js';
import { describeLogContract, noopListener, pollUntil, readAll } from './log-contract.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

describeLogContract('EmbeddedLog', async () => {
  const dir = tempDir('embedded-log-contract');
  const log = await openEmbeddedLog({ dir });
  return {
    log,
    async cleanup() {
      await log.close();
      removeDir(dir);
    },
  };
});

describe('EmbeddedLog specifics', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('embedded-log');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
  });

  afterEach(async () => {
    await log.close();
    removeDir(dir);
  });

  it('writes concurrent produce() calls of one tick as one RocksDB batch, offsets in call order', async () => {
    await log.ensureTopic('ingress', { partitions: 1 });
    const before = log.appendStats();
    const calls = Array.from({ length: 50 }, (_, i) =>
      log.produce([
        { topic: 'ingress', key: null, value: Buffer.from(`${i}a`) },
        { topic: 'ingress', key: null, value: Buffer.from(`${i}b`) },
      ]),
    );
    const results = await Promise.all(calls);
    const after = log.appendStats();
    expect(after.batches - before.batches).toBe(1);
    expect(after.records - before.records).toBe(100);
    expect(results.flat().map((m) => m.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const records = await log.read({ topic: 'ingress', partition: 0 }, 0, 100);
    expect(records.map((r) => r.value!.toString())).toEqual(results.flatMap((_, i) => [`${i}a`, `${i}b`]));
  });

  it('wakes a waiting poll on the append itself, and times out empty without records', async () => {
    await log.ensureTopic('wake', { partitions: 1 });
    const consumer = log.createConsumer({ groupId: 'g' });
    await consumer.subscribe(['wake'], noopListener);

    const t0 = Date.now();
    expect(await consumer.poll(10, 150)).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    const started = Date.now();
    const polled = consumer.poll(10, 60_000);
    setImmediate(() => void log.produce([{ topic: 'wake', key: null, value: Buffer.from('now') }]));
    const records = await polled;
    expect(records.map((r) => r.value!.toString())).toEqual(['now']);
    // Woken by the append's notification, not by a polling timer (which would need a short period).
    expect(Date.now() - started).toBeLessThan(250);
    await consumer.close();
  });

  it('shares a poll fairly across partitions and keeps each in offset order', async () => {
    await log.ensureTopic('busy', { partitions: 3 });
    for (let p = 0; p < 3; p++) {
      await log.produce(Array.from({ length: 1000 }, (_, i) => ({ topic: 'busy', key: null, value: Buffer.from(String(i)), partition: p })));
    }
    const consumer = log.createConsumer({ groupId: 'fair' });
    await consumer.subscribe(['busy'], noopListener);
    const first = await consumer.poll(30, 1000);
    expect(first).toHaveLength(30);
    for (let p = 0; p < 3; p++) {
      expect(first.filter((r) => r.partition === p).map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    }
    // A partition that runs dry leaves its share to the others.
    consumer.pause([{ topic: 'busy', partition: 0 }, { topic: 'busy', partition: 1 }]);
    const onlyTwo = await consumer.poll(30, 1000);
    expect(onlyTwo.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => 10 + i));
    await consumer.close();
  });

  it('assigns topics created after subscribe and revokes on close', async () => {
    const assigned: TopicPartition[] = [];
    const revoked: TopicPartition[] = [];
    const consumer = log.createConsumer({ groupId: 'late-topic' });
    await consumer.subscribe(['later'], {
      async onAssigned(tps) {
        assigned.push(...tps);
      },
      async onRevoked(tps) {
        revoked.push(...tps);
      },
    });
    expect(await consumer.poll(10, 50)).toEqual([]);
    expect(consumer.assignment()).toEqual([]);
    await log.ensureTopic('later', { partitions: 2 });
    await log.produce([{ topic: 'later', key: null, value: Buffer.from('x'), partition: 1 }]);
    const seen = await pollUntil(consumer, (rs) => rs.length >= 1, 5000);
    expect(seen.map((r) => r.partition)).toEqual([1]);
    expect(assigned).toEqual([
      { topic: 'later', partition: 0 },
      { topic: 'later', partition: 1 },
    ]);
    await consumer.close();
    expect(revoked).toEqual(assigned);
  });

  it('shares a group between live members; a member that closes hands its partitions over (test/log/embedded-group.test.ts has the rest)', async () => {
    await log.ensureTopic('shared', { partitions: 2 });
    const a = log.createConsumer({ groupId: 'shared-g' });
    await a.subscribe(['shared'], noopListener);
    expect(a.assignment()).toEqual([]); // assigned on the first poll, like Kafka
    await a.poll(1, 0);
    expect(a.assignment()).toEqual([
      { topic: 'shared', partition: 0 },
      { topic: 'shared', partition: 1 },
    ]);
    const b = log.createConsumer({ groupId: 'shared-g' });
    await b.subscribe(['shared'], noopListener);
    await a.poll(1, 0); // a revokes the number that moves
    await b.poll(1, 0); // b takes it
    expect(a.assignment()).toEqual([{ topic: 'shared', partition: 0 }]);
    expect(b.assignment()).toEqual([{ topic: 'shared', partition: 1 }]);
    await a.close();
    await b.poll(1, 0);
    expect(b.assignment().map((tp) => tp.partition).sort()).toEqual([0, 1]);
    await b.close();
  });

  it('assigns transaction offsets at commit time, in commit order', async () => {
    await log.ensureTopic('out', { partitions: 1 });
    const p1 = await log.createTransactionalProducer('t1');
    const p2 = await log.createTransactionalProducer('t2');
    const tx1 = await p1.begin();
    const tx2 = await p2.begin();
    tx1.produce([{ topic: 'out', key: null, value: Buffer.from('first-begun') }]);
    tx2.produce([{ topic: 'out', key: null, value: Buffer.from('first-committed') }]);
    expect(await log.endOffset({ topic: 'out', partition: 0 })).toBe(0); // nothing visible before commit
    const [m2] = await tx2.commit();
    const [m1] = await tx1.commit();
    expect([m2.offset, m1.offset]).toEqual([0, 1]);
  });

  it('fences an older transactional producer with the same id', async () => {
    await log.ensureTopic('fenced', { partitions: 1 });
    const zombie = await log.createTransactionalProducer('task-0_1');
    const tx = await zombie.begin();
    tx.produce([{ topic: 'fenced', key: null, value: Buffer.from('zombie') }]);
    const fresh = await log.createTransactionalProducer('task-0_1');
    await expect(tx.commit()).rejects.toBeInstanceOf(ProducerFencedError);
    await expect(zombie.begin()).rejects.toBeInstanceOf(ProducerFencedError);
    const ok = await fresh.begin();
    ok.produce([{ topic: 'fenced', key: null, value: Buffer.from('fresh') }]);
    await ok.commit();
    expect((await readAll(log, { topic: 'fenced', partition: 0 })).map((r) => r.value!.toString())).toEqual(['fresh']);
  });

  it('rejects produce to a missing topic, or auto-creates it when enabled', async () => {
    await expect(log.produce([{ topic: 'nope', key: null, value: null }])).rejects.toBeInstanceOf(UnknownTopicError);
    await expect(log.read({ topic: 'nope', partition: 0 }, 0, 1)).rejects.toBeInstanceOf(UnknownTopicError);
    await expect(log.endOffset({ topic: 'nope', partition: 0 })).rejects.toBeInstanceOf(UnknownTopicError);
    expect(await log.listTopics()).toEqual([]);

    const autoDir = tempDir('embedded-log-auto');
    const auto = await openEmbeddedLog({ dir: autoDir, autoCreateTopics: true, defaultPartitions: 3, cleanupIntervalMs: 0 });
    try {
      const [m] = await auto.produce([{ topic: 'implicit', key: null, value: Buffer.from('x') }]);
      expect(m).toEqual({ topic: 'implicit', partition: 0, offset: 0 });
      expect(await auto.partitionCount('implicit')).toBe(3);
    } finally {
      await auto.close();
      removeDir(autoDir);
    }
  });

  it('rejects a produce call with an invalid record without writing any of it', async () => {
    await log.ensureTopic('strict', { partitions: 2 });
    await expect(
      log.produce([
        { topic: 'strict', key: null, value: Buffer.from('fine') },
        { topic: 'strict', key: null, value: Buffer.from('bad'), partition: 7 },
      ]),
    ).rejects.toThrow(/no partition 7/);
    expect(await log.endOffset({ topic: 'strict', partition: 0 })).toBe(0);
    expect(await log.endOffset({ topic: 'strict', partition: 1 })).toBe(0);
  });

  it('spreads null-key records round-robin', async () => {
    await log.ensureTopic('rr', { partitions: 3 });
    const meta = await log.produce(Array.from({ length: 6 }, () => ({ topic: 'rr', key: null, value: Buffer.from('x') })));
    expect(meta.map((m) => m.partition)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('ends waiting polls on close, is unhealthy after, and close is idempotent', async () => {
    await log.ensureTopic('closing', { partitions: 1 });
    const consumer = log.createConsumer({ groupId: 'c' });
    await consumer.subscribe(['closing'], noopListener);
    const waiting = consumer.poll(10, 60_000);
    const pending = log.produce([{ topic: 'closing', key: null, value: Buffer.from('accepted before close') }]);
    await Promise.all([log.close(), log.close()]);
    await expect(pending).resolves.toHaveLength(1);
    await expect(waiting).resolves.toBeDefined();
    expect(await log.isHealthy()).toBe(false);
    await expect(log.produce([{ topic: 'closing', key: null, value: null }])).rejects.toThrow(/closed/);

    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    expect((await log.read({ topic: 'closing', partition: 0 }, 0, 10)).map((r) => r.value!.toString())).toEqual(['accepted before close']);
  });

  it('reports append, end offset and cleaner metrics when given a registry', async () => {
    const registry = new Registry();
    const metricsDir = tempDir('embedded-log-metrics');
    const measured = await openEmbeddedLog({ dir: metricsDir, registry, cleanupIntervalMs: 0 });
    try {
      await measured.ensureTopic('m', { partitions: 2, cleanupPolicy: 'compact' });
      await Promise.all([
        measured.produce([{ topic: 'm', key: Buffer.from('a'), value: Buffer.from('1'), partition: 0 }]),
        measured.produce([{ topic: 'm', key: Buffer.from('a'), value: Buffer.from('2'), partition: 0 }]),
      ]);
      await measured.compactNow();
      const text = await registry.metrics();
      expect(text).toMatch(/^streamline_log_appended_records_total 2$/m);
      expect(text).toMatch(/^streamline_log_append_batches_total 1$/m);
      expect(text).toMatch(/^streamline_log_end_offset\{topic="m",partition="0"\} 2$/m);
      expect(text).toMatch(/^streamline_log_cleaned_records_total\{reason="compacted"\} 1$/m);
    } finally {
      await measured.close();
      removeDir(metricsDir);
    }
  });

  it('splits large appends into bounded record batches and reads across their boundaries', async () => {
    await log.ensureTopic('large', { partitions: 1 });
    const tp = { topic: 'large', partition: 0 };
    // 2500 small records in one call: batches of at most 1000 records.
    await log.produce(Array.from({ length: 2500 }, (_, i) => ({ topic: 'large', key: null, value: Buffer.from(String(i)), partition: 0 })));
    expect((await log.read(tp, 998, 4)).map((r) => r.value!.toString())).toEqual(['998', '999', '1000', '1001']);
    expect((await log.read(tp, 1002, 2)).map((r) => r.offset)).toEqual([1002, 1003]); // continues from the cached batch
    expect((await log.read(tp, 1999, 2)).map((r) => r.offset)).toEqual([1999, 2000]);
    expect((await log.read(tp, 2499, 10)).map((r) => r.offset)).toEqual([2499]);
    // Values larger than the 1 MiB batch budget: one record per batch, intact.
    const big = [0, 1, 2].map((i) => Buffer.alloc(700 * 1024 + i, 97 + i));
    const meta = await log.produce(big.map((value) => ({ topic: 'large', key: Buffer.from('big'), value, partition: 0 })));
    expect(meta.map((m) => m.offset)).toEqual([2500, 2501, 2502]);
    const back = await log.read(tp, 2500, 10);
    expect(back.map((r) => r.value!.equals(big[r.offset - 2500]))).toEqual([true, true, true]);
    expect((await readAll(log, tp)).length).toBe(2503);
  });

  it('accepts only topic names Kafka accepts', async () => {
    await log.ensureTopic('app-id_store.v2-changelog', { partitions: 1 });
    for (const bad of ['', 'has space', 'colon:topic', '..', 'x'.repeat(250)]) {
      await expect(log.ensureTopic(bad, { partitions: 1 })).rejects.toThrow(/invalid topic name/);
    }
  });
});
