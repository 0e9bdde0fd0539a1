import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { partitionForKey } from '../../log/Murmur2.js';
import { readAll } from './log-contract.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

/**
 * Randomised check against an in-memory model: produce (plain and transactional), abort,
 * compaction, tombstone expiry and reopen in random order; after every step the log's reads must
 * equal the model's, whole partitions and random slices alike. Seeded, so a failure replays.
 */

interface ModelRecord {
  offset: number;
  key: string | null;
  value: string | null;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s ^= s >>> 12;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

const HOUR = 60 * 60 * 1000;
const PARTITIONS = 3;
const TOPIC = 'model';

describe.each([1, 2, 3])('EmbeddedLog against a model (seed %i)', (seed) => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('embedded-log-model');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0, tombstoneRetentionMs: HOUR });
  });

  afterEach(async () => {
    await log.close();
    removeDir(dir);
  });

  it('reads what the model predicts after random produce, transactions, compaction and reopen', async () => {
    const random = prng(seed);
    const pick = (n: number) => Math.floor(random() * n);
    await log.ensureTopic(TOPIC, { partitions: PARTITIONS, cleanupPolicy: 'compact' });
    const model: ModelRecord[][] = Array.from({ length: PARTITIONS }, () => []);
    const ends = new Array<number>(PARTITIONS).fill(0);

    const makeRecords = () =>
      Array.from({ length: 1 + pick(300) }, () => {
        const key = random() < 0.05 ? null : `k${pick(40)}`;
        const value = key !== null && random() < 0.1 ? null : `v${pick(1e6)}`;
        return { key, value };
      });
    const apply = (records: Array<{ key: string | null; value: string | null }>, partitions: number[]) => {
      records.forEach((r, i) => {
        const p = partitions[i];
        model[p].push({ offset: ends[p]++, key: r.key, value: r.value });
      });
    };
    const partitionOf = (key: string | null, explicit?: number) =>
      explicit ?? (key === null ? undefined : partitionForKey(Buffer.from(key), PARTITIONS));

    for (let step = 0; step < 60; step++) {
      const action = random();
      if (action < 0.45) {
        const records = makeRecords();
        // Null keys go round-robin: pin them to a partition so the model knows where they land.
        const explicit = records.map((r) => (r.key === null ? pick(PARTITIONS) : undefined));
        const meta = await log.produce(
          records.map((r, i) => ({
            topic: TOPIC,
            key: r.key === null ? null : Buffer.from(r.key),
            value: r.value === null ? null : Buffer.from(r.value),
            partition: explicit[i],
          })),
        );
        const partitions = records.map((r, i) => partitionOf(r.key, explicit[i])!);
        expect(meta.map((m) => m.partition)).toEqual(partitions);
        apply(records, partitions);
      } else if (action < 0.65) {
        const producer = await log.createTransactionalProducer(`tx-${step}`);
        const tx = await producer.begin();
        const records = makeRecords().map((r) => ({ ...r, key: r.key ?? 'k0' }));
        tx.produce(records.map((r) => ({ topic: TOPIC, key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) })));
        if (random() < 0.3) {
          await tx.abort();
        } else {
          await tx.commit();
          apply(records, records.map((r) => partitionOf(r.key)!));
        }
        await producer.close();
      } else if (action < 0.85) {
        const expireTombstones = random() < 0.3;
        await log.compactNow({ now: expireTombstones ? Date.now() + 2 * HOUR : Date.now() });
        for (let p = 0; p < PARTITIONS; p++) {
          const latest = new Map<string, number>();
          for (const r of model[p]) if (r.key !== null) latest.set(r.key, r.offset);
          model[p] = model[p].filter(
            (r) => r.key === null || (latest.get(r.key) === r.offset && !(expireTombstones && r.value === null)),
          );
        }
      } else {
        await log.close();
        log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0, tombstoneRetentionMs: HOUR });
      }

      for (let p = 0; p < PARTITIONS; p++) {
        const tp = { topic: TOPIC, partition: p };
        expect(await log.endOffset(tp)).toBe(ends[p]);
        const all = (await readAll(log, tp)).map((r) => ({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null }));
        expect(all).toEqual(model[p]);
        // Sequential reads in small random steps (the path that continues from the cached batch).
        const stepped: number[] = [];
        for (let next = 0; ; ) {
          const page = await log.read(tp, next, 1 + pick(40));
          if (page.length === 0) break;
          stepped.push(...page.map((r) => r.offset));
          next = page[page.length - 1].offset + 1;
        }
        expect(stepped).toEqual(model[p].map((r) => r.offset));
        const from = pick(ends[p] + 1);
        const max = 1 + pick(50);
        const slice = await log.read(tp, from, max);
        expect(slice.map((r) => r.offset)).toEqual(model[p].filter((r) => r.offset >= from).slice(0, max).map((r) => r.offset));
      }
    }
  });
});

describe.each([4, 5])('EmbeddedLog retention against a model (seed %i)', (seed) => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('embedded-log-retention-model');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
  });

  afterEach(async () => {
    await log.close();
    removeDir(dir);
  });

  it('removes exactly the expired head of each partition and keeps offsets', async () => {
    const random = prng(seed);
    const pick = (n: number) => Math.floor(random() * n);
    const topic = 'windows';
    await log.ensureTopic(topic, { partitions: 1, cleanupPolicy: 'delete', retentionMs: HOUR });
    const tp = { topic, partition: 0 };
    let model: Array<{ offset: number; timestamp: number }> = [];
    let end = 0;
    let clock = Date.now();
    let logStart = 0;

    for (let step = 0; step < 40; step++) {
      if (random() < 0.6) {
        // Timestamps mostly move forward but sometimes lag behind, as event times do.
        const records = Array.from({ length: 1 + pick(200) }, () => ({ topic, key: null, value: Buffer.from('x'), partition: 0, timestamp: clock - pick(2) * HOUR }));
        await log.produce(records);
        for (const r of records) model.push({ offset: end++, timestamp: r.timestamp });
      } else if (random() < 0.8) {
        clock += pick(3) * 20 * 60 * 1000;
        await log.compactNow({ now: clock });
        const firstKept = model.findIndex((r) => r.timestamp >= clock - HOUR);
        const kept = firstKept < 0 ? [] : model.slice(firstKept);
        logStart = firstKept < 0 ? end : Math.max(logStart, model[firstKept].offset);
        model = kept;
      } else {
        await log.close();
        log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
      }
      expect(await log.beginningOffset(tp)).toBe(logStart);
      expect(await log.endOffset(tp)).toBe(end);
      expect((await readAll(log, tp)).map((r) => r.offset)).toEqual(model.map((r) => r.offset));
    }
  });
});
