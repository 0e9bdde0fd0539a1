import { randomUUID } from 'node:crypto';
import {
  UnknownTopicError,
  partitionKey,
  type Log,
  type LogConsumer,
  type LogRecord,
  type RebalanceListener,
  type TopicPartition,
} from '../../log/Log.js';
import { partitionForKey } from '../../log/Murmur2.js';

/**
 * Behaviour every Log implementation must have (embedded and Kafka). Kept free of embedded-only
 * assumptions: visibility is awaited through poll/read loops with deadlines, never assumed
 * instant; offsets after transactions are not assumed contiguous (Kafka's commit markers take
 * offsets); every test uses its own topic and group names.
 */
export interface LogUnderTest {
  log: Log;
  cleanup(): Promise<void>;
}

const WAIT_MS = 20_000;

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export const noopListener: RebalanceListener = {
  async onAssigned() {},
  async onRevoked() {},
};

/** Polls until `done(all records so far)` holds or the deadline passes; returns what it saw. */
export async function pollUntil(
  consumer: LogConsumer,
  done: (records: LogRecord[]) => boolean,
  timeoutMs = WAIT_MS,
): Promise<LogRecord[]> {
  const seen: LogRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(seen) && Date.now() < deadline) {
    const batch = await consumer.poll(500, Math.min(1000, Math.max(1, deadline - Date.now())));
    seen.push(...batch);
  }
  return seen;
}

/**
 * Polls with short timeouts until the consumer owns `count` partitions (a broker assigns them in
 * a rebalance during poll). Only for tests whose topics hold no records yet, or that rewind.
 */
export async function awaitAssignment(consumer: LogConsumer, count: number, timeoutMs = WAIT_MS): Promise<LogRecord[]> {
  const seen: LogRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (consumer.assignment().length < count && Date.now() < deadline) {
    seen.push(...(await consumer.poll(500, 100)));
  }
  expect(consumer.assignment()).toHaveLength(count);
  return seen;
}

/** Reads a whole partition from its beginning to its current end. */
export async function readAll(log: Log, tp: TopicPartition): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let from = await log.beginningOffset(tp);
  const end = await log.endOffset(tp);
  while (from < end) {
    const batch = await log.read(tp, from, 1000);
    if (batch.length === 0) break;
    out.push(...batch);
    from = batch[batch.length - 1].offset + 1;
  }
  return out;
}

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

export function describeLogContract(name: string, makeLog: () => Promise<LogUnderTest>): void {
  describe(`Log contract: ${name}`, () => {
    let subject: LogUnderTest;
    let log: Log;

    beforeEach(async () => {
      subject = await makeLog();
      log = subject.log;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    it('creates topics idempotently and reports their partition count', async () => {
      const topic = uniqueName('contract-topics');
      await log.ensureTopic(topic, { partitions: 3 });
      await log.ensureTopic(topic, { partitions: 5 });
      expect(await log.partitionCount(topic)).toBe(3);
      expect(await log.listTopics()).toContain(topic);
      await expect(log.partitionCount(uniqueName('contract-missing'))).rejects.toBeInstanceOf(UnknownTopicError);
    });

    it('reads back produced records in offset order with key, value, headers and timestamp', async () => {
      const topic = uniqueName('contract-order');
      await log.ensureTopic(topic, { partitions: 1 });
      const tp = { topic, partition: 0 };
      const start = await log.endOffset(tp);
      const meta = await log.produce([
        { topic, key: Buffer.from('k1'), value: Buffer.from('v1'), headers: { h: 'x' }, timestamp: 1_700_000_000_000 },
        { topic, key: null, value: Buffer.from('v2') },
        { topic, key: Buffer.from('k3'), value: null },
      ]);
      expect(meta.map((m) => m.offset)).toEqual([start, start + 1, start + 2]);
      expect(meta.every((m) => m.topic === topic && m.partition === 0)).toBe(true);
      expect(await log.endOffset(tp)).toBe(start + 3);

      const records = await log.read(tp, start, 10);
      expect(records.map((r) => r.offset)).toEqual([start, start + 1, start + 2]);
      expect(records.map((r) => text(r.key))).toEqual(['k1', null, 'k3']);
      expect(records.map((r) => text(r.value))).toEqual(['v1', 'v2', null]);
      expect(records[0].headers).toEqual({ h: 'x' });
      expect(records[0].timestamp).toBe(1_700_000_000_000);
      expect(records[1].timestamp).toBeGreaterThan(1_600_000_000_000);
      expect(await log.read(tp, start + 1, 1)).toHaveLength(1);
      expect((await log.read(tp, start + 1, 1))[0].offset).toBe(start + 1);
      expect(await log.read(tp, start + 3, 10)).toEqual([]);
    });

    it('puts a keyed record on murmur2(key) % partitions and honours an explicit partition', async () => {
      const topic = uniqueName('contract-partitioning');
      await log.ensureTopic(topic, { partitions: 6 });
      const keys = ['user-1', 'user-2', 'user-42', 'foobar', '日本語', 'a', ''];
      const meta = await log.produce(keys.map((k) => ({ topic, key: Buffer.from(k), value: Buffer.from(k) })));
      meta.forEach((m, i) => expect(m.partition).toBe(partitionForKey(Buffer.from(keys[i]), 6)));
      const [explicit] = await log.produce([{ topic, key: Buffer.from('user-1'), value: null, partition: 5 }]);
      expect(explicit.partition).toBe(5);
      for (const m of meta) {
        const [r] = await log.read({ topic, partition: m.partition }, m.offset, 1);
        expect(r.offset).toBe(m.offset);
      }
    });

    it('keeps per-key order under concurrent producers', async () => {
      const topic = uniqueName('contract-concurrent');
      await log.ensureTopic(topic, { partitions: 4 });
      const producers = 8;
      const perProducer = 50;
      await Promise.all(
        Array.from({ length: producers }, async (_, p) => {
          for (let i = 0; i < perProducer; i += 5) {
            const chunk = Array.from({ length: 5 }, (_, j) => ({
              topic,
              key: Buffer.from(`producer-${p}`),
              value: Buffer.from(String(i + j)),
            }));
            await log.produce(chunk);
          }
        }),
      );
      const consumer = log.createConsumer({ groupId: uniqueName('contract-concurrent-g') });
      try {
        await consumer.subscribe([topic], noopListener);
        const seen = await pollUntil(consumer, (rs) => rs.length >= producers * perProducer);
        expect(seen).toHaveLength(producers * perProducer);
        const lastOffset = new Map<number, number>();
        const lastSeq = new Map<string, number>();
        for (const r of seen) {
          expect(r.offset).toBeGreaterThan(lastOffset.get(r.partition) ?? -1);
          lastOffset.set(r.partition, r.offset);
          const k = text(r.key)!;
          const seq = Number(text(r.value));
          expect(seq).toBe((lastSeq.get(k) ?? -1) + 1);
          lastSeq.set(k, seq);
          expect(r.partition).toBe(partitionForKey(r.key!, 4));
        }
      } finally {
        await consumer.close();
      }
    });

    it('gives a subscriber every partition, calls onAssigned first, and resumes from committed offsets', async () => {
      const topic = uniqueName('contract-group');
      const groupId = uniqueName('contract-group-g');
      await log.ensureTopic(topic, { partitions: 3 });
      await log.produce(Array.from({ length: 30 }, (_, i) => ({ topic, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })));

      const assigned: TopicPartition[] = [];
      const revoked: TopicPartition[] = [];
      let assignedBeforeRecords = false;
      const consumer = log.createConsumer({ groupId, autoOffsetReset: 'earliest' });
      await consumer.subscribe([topic], {
        async onAssigned(tps) {
          assigned.push(...tps);
        },
        async onRevoked(tps) {
          revoked.push(...tps);
        },
      });
      const first = await pollUntil(consumer, (rs) => {
        if (rs.length > 0 && assigned.length > 0) assignedBeforeRecords = true;
        return rs.length >= 30;
      });
      expect(assignedBeforeRecords).toBe(true);
      expect(first).toHaveLength(30);
      expect(assigned.map(partitionKey).sort()).toEqual([0, 1, 2].map((p) => `${topic}:${p}`));
      expect(consumer.assignment().map(partitionKey).sort()).toEqual([0, 1, 2].map((p) => `${topic}:${p}`));

      // Commit only partition 0 fully; the others at their first record's offset + 1.
      const commits = [0, 1, 2].map((p) => {
        const mine = first.filter((r) => r.partition === p);
        return { topic, partition: p, offset: p === 0 ? mine[mine.length - 1].offset + 1 : mine[0].offset + 1 };
      });
      await consumer.commitOffsets(commits);
      const committed = await log.committedOffsets(groupId, [0, 1, 2].map((p) => ({ topic, partition: p })));
      for (const c of commits) expect(committed.get(`${topic}:${c.partition}`)).toBe(c.offset);
      await consumer.close();
      // Closing a member hands its partitions back through onRevoked, as Kafka's consumer does.
      expect(revoked.map(partitionKey).sort()).toEqual([0, 1, 2].map((p) => `${topic}:${p}`));

      const again = log.createConsumer({ groupId });
      try {
        await again.subscribe([topic], noopListener);
        const expected = first.filter((r) => r.partition !== 0).length - 2;
        const second = await pollUntil(again, (rs) => rs.length >= expected);
        expect(second).toHaveLength(expected);
        expect(second.some((r) => r.partition === 0)).toBe(false);
        for (const c of commits.slice(1)) {
          const firstOfPartition = second.find((r) => r.partition === c.partition);
          expect(firstOfPartition?.offset).toBe(c.offset);
        }
      } finally {
        await again.close();
      }
    });

    it('wakes a waiting poll when a record is appended', async () => {
      const topic = uniqueName('contract-wake');
      await log.ensureTopic(topic, { partitions: 2 });
      const consumer = log.createConsumer({ groupId: uniqueName('contract-wake-g') });
      try {
        await consumer.subscribe([topic], noopListener);
        // Let the assignment settle (a real broker needs a rebalance), then wait on an empty topic.
        await awaitAssignment(consumer, 2);
        const started = Date.now();
        const polled = consumer.poll(10, 30_000);
        await log.produce([{ topic, key: Buffer.from('wake'), value: Buffer.from('up') }]);
        let records = await polled;
        if (records.length === 0) records = await consumer.poll(10, 5_000);
        expect(records.map((r) => text(r.value))).toEqual(['up']);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await consumer.close();
      }
    });

    it('starts at the end with autoOffsetReset latest, and seek moves the position', async () => {
      const topic = uniqueName('contract-latest');
      await log.ensureTopic(topic, { partitions: 1 });
      await log.produce([0, 1, 2].map((i) => ({ topic, key: null, value: Buffer.from(`old${i}`) })));
      const consumer = log.createConsumer({ groupId: uniqueName('contract-latest-g'), autoOffsetReset: 'latest' });
      try {
        await consumer.subscribe([topic], noopListener);
        await awaitAssignment(consumer, 1);
        expect(await consumer.poll(10, 200)).toEqual([]);
        await log.produce([{ topic, key: null, value: Buffer.from('new') }]);
        const fresh = await pollUntil(consumer, (rs) => rs.length >= 1);
        expect(fresh.map((r) => text(r.value))).toEqual(['new']);

        const tp = { topic, partition: 0 };
        const beginning = await log.beginningOffset(tp);
        consumer.seek(tp, beginning + 1);
        const replay = await pollUntil(consumer, (rs) => rs.length >= 3);
        expect(replay.map((r) => text(r.value))).toEqual(['old1', 'old2', 'new']);
      } finally {
        await consumer.close();
      }
    });

    it('returns nothing from paused partitions until resumed', async () => {
      const topic = uniqueName('contract-pause');
      await log.ensureTopic(topic, { partitions: 2 });
      await log.produce([
        { topic, key: null, value: Buffer.from('p0'), partition: 0 },
        { topic, key: null, value: Buffer.from('p1'), partition: 1 },
      ]);
      const consumer = log.createConsumer({ groupId: uniqueName('contract-pause-g') });
      try {
        await consumer.subscribe([topic], noopListener);
        const early = await awaitAssignment(consumer, 2);
        // Records may already have arrived while waiting for the assignment: rewind.
        if (early.length > 0) for (const p of [0, 1]) consumer.seek({ topic, partition: p }, 0);
        consumer.pause([{ topic, partition: 0 }]);
        const whilePaused = await pollUntil(consumer, (rs) => rs.length >= 1);
        expect(whilePaused.map((r) => r.partition)).toEqual([1]);
        expect(await consumer.poll(10, 300)).toEqual([]);
        consumer.resume([{ topic, partition: 0 }]);
        const afterResume = await pollUntil(consumer, (rs) => rs.length >= 1);
        expect(afterResume.map((r) => text(r.value))).toEqual(['p0']);
      } finally {
        await consumer.close();
      }
    });

    it('makes a committed transaction visible with its offsets and an aborted one never', async () => {
      const input = uniqueName('contract-tx-in');
      const output = uniqueName('contract-tx-out');
      const groupId = uniqueName('contract-tx-g');
      await log.ensureTopic(input, { partitions: 1 });
      await log.ensureTopic(output, { partitions: 2 });
      const consumer = log.createConsumer({ groupId });
      const producer = await log.createTransactionalProducer(uniqueName('contract-tx-id'));
      try {
        await consumer.subscribe([input], noopListener);

        const aborted = await producer.begin();
        aborted.produce([{ topic: output, key: Buffer.from('a'), value: Buffer.from('aborted') }]);
        aborted.sendOffsets(consumer, [{ topic: input, partition: 0, offset: 99 }]);
        await aborted.abort();

        const tx = await producer.begin();
        tx.produce([
          { topic: output, key: Buffer.from('a'), value: Buffer.from('committed-1') },
          { topic: output, key: Buffer.from('b'), value: Buffer.from('committed-2') },
        ]);
        tx.sendOffsets(consumer, [{ topic: input, partition: 0, offset: 7 }]);
        const meta = await tx.commit();
        expect(meta).toHaveLength(2);
        expect(meta.map((m) => m.partition)).toEqual([partitionForKey(Buffer.from('a'), 2), partitionForKey(Buffer.from('b'), 2)]);

        const committed = await log.committedOffsets(groupId, [{ topic: input, partition: 0 }]);
        expect(committed.get(`${input}:0`)).toBe(7);

        const reader = log.createConsumer({ groupId: uniqueName('contract-tx-reader') });
        try {
          await reader.subscribe([output], noopListener);
          const seen = await pollUntil(reader, (rs) => rs.length >= 2);
          expect(seen.map((r) => text(r.value)).sort()).toEqual(['committed-1', 'committed-2']);
          const all = [...(await readAll(log, { topic: output, partition: 0 })), ...(await readAll(log, { topic: output, partition: 1 }))];
          expect(all.map((r) => text(r.value)).sort()).toEqual(['committed-1', 'committed-2']);
          // The reader's position is past everything it was given, transaction markers included.
          for (const partition of new Set(meta.map((m) => m.partition))) {
            const tp = { topic: output, partition };
            expect({ partition, position: reader.position(tp) }).toEqual({ partition, position: await log.endOffset(tp) });
          }
          expect(reader.position({ topic: input, partition: 0 })).toBeUndefined();
        } finally {
          await reader.close();
        }
      } finally {
        await producer.close();
        await consumer.close();
      }
    });

    it('reads the beginning and end offsets of many partitions of several topics at once', async () => {
      const two = uniqueName('contract-offsets-two');
      const one = uniqueName('contract-offsets-one');
      await log.ensureTopic(two, { partitions: 2 });
      await log.ensureTopic(one, { partitions: 1 });
      await log.produce([
        { topic: two, key: null, value: Buffer.from('a'), partition: 0 },
        { topic: two, key: null, value: Buffer.from('b'), partition: 0 },
        { topic: two, key: null, value: Buffer.from('c'), partition: 1 },
        { topic: one, key: null, value: Buffer.from('d'), partition: 0 },
      ]);
      const partitions = [{ topic: two, partition: 1 }, { topic: one, partition: 0 }, { topic: two, partition: 0 }];
      const ends = await log.endOffsets(partitions);
      const beginnings = await log.beginningOffsets(partitions);
      for (const tp of partitions) {
        expect({ tp, end: ends.get(partitionKey(tp)), beginning: beginnings.get(partitionKey(tp)) }).toEqual({ tp, end: await log.endOffset(tp), beginning: await log.beginningOffset(tp) });
      }
      expect(ends.get(partitionKey({ topic: two, partition: 0 }))! - beginnings.get(partitionKey({ topic: two, partition: 0 }))!).toBe(2);
      expect(ends.size).toBe(3);
      expect(await log.endOffsets([])).toEqual(new Map());
      await expect(log.endOffsets([{ topic: one, partition: 0 }, { topic: uniqueName('contract-missing'), partition: 0 }])).rejects.toBeInstanceOf(UnknownTopicError);
      await expect(log.beginningOffsets([{ topic: two, partition: 2 }])).rejects.toBeInstanceOf(RangeError);
    });

    it('reports itself healthy while open', async () => {
      expect(await log.isHealthy()).toBe(true);
    });
  });
}
