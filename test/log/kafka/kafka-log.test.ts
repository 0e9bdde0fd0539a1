import { Admin, Consumer } from '@platformatic/kafka';
import { Registry } from 'prom-client';
import { openKafkaLog, type KafkaLog } from '../../../log/kafka/KafkaLog.js';
import { partitionForKey } from '../../../log/Murmur2.js';
import { readAll, uniqueName } from '../log-contract.js';
import { testKafkaBrokers } from '../../support/kafka-broker.js';

/** KafkaLog specifics on a real broker, beyond the shared Log contract. */
describe('KafkaLog on a real broker', () => {
  let brokers: string[];
  let log: KafkaLog;
  let admin: Admin;

  beforeAll(async () => {
    brokers = testKafkaBrokers().split(',');
    log = await openKafkaLog({ brokers, clientId: uniqueName('kafka-log') });
    admin = new Admin({ clientId: 'kafka-log-test', bootstrapBrokers: brokers });
  });

  afterAll(async () => {
    await log?.close();
    await admin?.close();
  });

  it('creates topics with their partition count, cleanup.policy and retention.ms', async () => {
    const changelog = uniqueName('app-store-changelog');
    const windowed = uniqueName('app-window-changelog');
    await log.ensureTopic(changelog, { partitions: 4, cleanupPolicy: 'compact' });
    await log.ensureTopic(windowed, { partitions: 2, cleanupPolicy: 'compact,delete', retentionMs: 3_600_000 });
    expect(await log.partitionCount(changelog)).toBe(4);
    expect(await log.partitionCount(windowed)).toBe(2);
    const described = await admin.describeConfigs({
      resources: [changelog, windowed].map((name) => ({ resourceType: 2 as const, resourceName: name, configurationKeys: ['cleanup.policy', 'retention.ms'] })),
    });
    const config = (topic: string, key: string) => described.find((d) => d.resourceName === topic)?.configs.find((c) => c.name === key)?.value;
    expect(config(changelog, 'cleanup.policy')).toBe('compact');
    expect(config(windowed, 'cleanup.policy')).toBe('compact,delete');
    expect(config(windowed, 'retention.ms')).toBe('3600000');
  });

  it('places keys on murmur2(key) % partitions, the partition Kafka’s Java client would pick', async () => {
    const topic = uniqueName('partitioning');
    await log.ensureTopic(topic, { partitions: 12 });
    const keys = Array.from({ length: 200 }, (_, i) => `user-${i * 7919}`);
    const metadata = await log.produce(keys.map((k) => ({ topic, key: Buffer.from(k), value: Buffer.from(k) })));
    const expected = keys.map((k) => partitionForKey(Buffer.from(k), 12));
    expect(metadata.map((m) => m.partition)).toEqual(expected);
    expect(new Set(expected).size).toBe(12);
    // What the broker stored agrees with what produce reported.
    const stored = new Map<string, number>();
    for (let p = 0; p < 12; p++) for (const r of await readAll(log, { topic, partition: p })) stored.set(r.key!.toString(), p);
    expect(keys.map((k) => stored.get(k))).toEqual(expected);
  });

  it('accepts produce calls and transactions far over the broker’s 1 MiB batch limit (split into sends)', async () => {
    const topic = uniqueName('large');
    await log.ensureTopic(topic, { partitions: 2 });
    const value = Buffer.alloc(1024, 'v');
    const records = Array.from({ length: 3000 }, (_, i) => ({ topic, key: null, value, partition: i % 2, headers: { i: String(i) } }));
    const metadata = await log.produce(records);
    expect(metadata.filter((m) => m.partition === 0).map((m) => m.offset)).toEqual(Array.from({ length: 1500 }, (_, i) => i));

    const producer = await log.createTransactionalProducer(uniqueName('large-tx'));
    try {
      const tx = await producer.begin();
      tx.produce(records);
      expect(await tx.commit()).toHaveLength(3000);
    } finally {
      await producer.close();
    }
    // 1500 plain + 1500 transactional records and the commit marker, which the coordinator
    // writes just after the commit returns.
    const tp = { topic, partition: 1 };
    const deadline = Date.now() + 10_000;
    while ((await log.endOffset(tp)) < 3001 && Date.now() < deadline);
    const stored = await readAll(log, tp);
    expect(stored).toHaveLength(3000);
    expect(stored.map((r) => Number(r.headers.i))).toEqual([...records, ...records].map((r) => Number(r.headers.i)).filter((i) => i % 2 === 1));
  });

  it.each([
    ['1', [0, 1]],
    ['0', [-1, -1]],
  ] as const)('produces with KAFKA_ACKS=%s (offsets %j reported)', async (acks, expectedOffsets) => {
    const topic = uniqueName(`acks-${acks}`);
    const weak = await openKafkaLog({ brokers, clientId: uniqueName('acks'), acks });
    try {
      await weak.ensureTopic(topic, { partitions: 1 });
      const metadata = await weak.produce([0, 1].map((i) => ({ topic, key: null, value: Buffer.from(`v${i}`) })));
      expect(metadata.map((m) => m.offset)).toEqual([...expectedOffsets]);
      const deadline = Date.now() + 10_000;
      while ((await log.endOffset({ topic, partition: 0 })) < 2 && Date.now() < deadline);
      expect((await log.read({ topic, partition: 0 }, 0, 10)).map((r) => r.value!.toString())).toEqual(['v0', 'v1']);
    } finally {
      await weak.close();
    }
  });

  it('counts produced records, transactions and rebalances in Prometheus metrics', async () => {
    const registry = new Registry();
    const metered = await openKafkaLog({ brokers, clientId: uniqueName('metrics'), registry });
    const topic = uniqueName('metrics');
    try {
      await metered.ensureTopic(topic, { partitions: 2 });
      await metered.produce([1, 2, 3].map((i) => ({ topic, key: Buffer.from(`k${i}`), value: null })));
      const producer = await metered.createTransactionalProducer(uniqueName('metrics-tx'));
      const committed = await producer.begin();
      committed.produce([{ topic, key: null, value: Buffer.from('x') }]);
      await committed.commit();
      const aborted = await producer.begin();
      await aborted.abort();
      await producer.close();
      const consumer = metered.createConsumer({ groupId: uniqueName('metrics-g') });
      await consumer.subscribe([topic], { async onAssigned() {}, async onRevoked() {} });
      await consumer.poll(10, 500);
      await consumer.close();

      const text = await registry.metrics();
      expect(text).toMatch(/^streamline_kafka_produced_records_total 3$/m);
      expect(text).toMatch(/^streamline_kafka_transactions_total\{result="committed"\} 1$/m);
      expect(text).toMatch(/^streamline_kafka_transactions_total\{result="aborted"\} 1$/m);
      expect(text).toMatch(/^streamline_kafka_rebalances_total\{group="metrics-g-[0-9a-f]+"\} 1$/m);
    } finally {
      await metered.close();
    }
  });

  it('spreads null keys round-robin', async () => {
    const topic = uniqueName('null-keys');
    await log.ensureTopic(topic, { partitions: 3 });
    const metadata = await log.produce(Array.from({ length: 6 }, (_, i) => ({ topic, key: null, value: Buffer.from(String(i)) })));
    expect(metadata.map((m) => m.partition).sort()).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it.each(['gzip', 'snappy', 'lz4'] as const)('produces %s-compressed batches that read back intact', async (compression) => {
    const topic = uniqueName(`codec-${compression}`);
    const compressed = await openKafkaLog({ brokers, clientId: uniqueName('codec'), compression });
    try {
      await compressed.ensureTopic(topic, { partitions: 1 });
      const values = Array.from({ length: 50 }, (_, i) => `event ${i} `.repeat(20));
      await compressed.produce(values.map((v) => ({ topic, key: Buffer.from('k'), value: Buffer.from(v) })));
      // Read through the other (uncompressed) log: the codec is in the batch, not the reader.
      expect((await log.read({ topic, partition: 0 }, 0, 100)).map((r) => r.value!.toString())).toEqual(values);

      // And the broker really stored compressed batches (codec id in the batch attributes).
      const fetcher = new Consumer({ clientId: 'codec-check', groupId: uniqueName('codec-check'), bootstrapBrokers: brokers });
      try {
        const metadata = await fetcher.metadata({ topics: [topic] });
        const info = metadata.topics.get(topic)!;
        const response = await fetcher.fetch({
          node: info.partitions[0].leader,
          topics: [{ topicId: info.id, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
        });
        const batches = response.responses[0].partitions[0].records ?? [];
        expect(batches.length).toBeGreaterThan(0);
        const codecIds = { gzip: 1, snappy: 2, lz4: 3 } as const;
        for (const batch of batches) expect(batch.attributes & 0b111).toBe(codecIds[compression]);
      } finally {
        await fetcher.close();
      }
    } finally {
      await compressed.close();
    }
  });

  it('reports the last stable offset as the end while a transaction is open, and reads skip its markers', async () => {
    const topic = uniqueName('lso');
    await log.ensureTopic(topic, { partitions: 1 });
    const tp = { topic, partition: 0 };
    await log.produce([{ topic, key: null, value: Buffer.from('before') }]);
    const producer = await log.createTransactionalProducer(uniqueName('lso-tx'));
    try {
      const open = await producer.begin();
      open.produce([{ topic, key: null, value: Buffer.from('pending') }]);
      // The record reaches the broker in the background; the high watermark moves, the LSO does not.
      const hw = async () => Number((await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }], isolationLevel: 0 }))[0].partitions[0].offset);
      const deadline = Date.now() + 10_000;
      while ((await hw()) < 2 && Date.now() < deadline);
      expect(await hw()).toBe(2);
      expect(await log.endOffset(tp)).toBe(1);
      expect((await log.read(tp, 0, 10)).map((r) => r.value!.toString())).toEqual(['before']);
      await open.commit();
      // pending at offset 1, its commit marker at 2; the coordinator writes the marker just after
      // answering the commit, so the end moves a moment later.
      const markerDeadline = Date.now() + 10_000;
      while ((await log.endOffset(tp)) < 3 && Date.now() < markerDeadline);
      expect(await log.endOffset(tp)).toBe(3);
      await log.produce([{ topic, key: null, value: Buffer.from('after') }]);
      const records = await log.read(tp, 0, 10);
      expect(records.map((r) => [r.offset, r.value!.toString()])).toEqual([
        [0, 'before'],
        [1, 'pending'],
        [3, 'after'],
      ]);
      expect(await log.beginningOffset(tp)).toBe(0);
    } finally {
      await producer.close();
    }
  });
});
