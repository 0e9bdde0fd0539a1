import { UnknownTopicError } from '../../log/Log.js';
import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, StreamsBuilder, inMemoryKeyValueStore, type Topology } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const json = (value: unknown) => (value === null ? null : Buffer.from(JSON.stringify(value)));

/**
 * Materialized in-memory stores (Stores.inMemoryKeyValueStore): nothing on disk, so every start
 * restores them from their changelog; with logging disabled there is nothing to restore from.
 */
describe('in-memory aggregation stores', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('in-memory-store');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    await log.ensureTopic('events', { partitions: 2 });
    await log.ensureTopic('counts', { partitions: 2 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const topology = (loggingEnabled: boolean): Topology => {
    const builder = new StreamsBuilder();
    builder
      .stream<string, { n: number }>('events')
      .groupByKey()
      .count({ ...inMemoryKeyValueStore('counts-store'), loggingEnabled, cachingEnabled: false })
      .toStream()
      .to('counts');
    return builder.build();
  };

  async function runOnce(applicationId: string, loggingEnabled: boolean, keys: string[], timestamp: number): Promise<void> {
    await log.produce(keys.map((key, i) => ({ topic: 'events', key: Buffer.from(key), value: json({ n: i }), timestamp: timestamp + i })));
    const app = new StreamsApp(topology(loggingEnabled), log, { applicationId, stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      await waitForCaughtUp(app, log, applicationId, ['events']);
    } finally {
      await app.close();
    }
  }

  const lastCounts = async () => {
    const last = new Map<string, number>();
    for (const r of await readAll(log, 'counts')) last.set(r.key!.toString(), JSON.parse(r.value!.toString()) as number);
    return Object.fromEntries([...last].sort());
  };

  test('restores from its changelog on the next start and counts on', async () => {
    await runOnce('in-memory-restore', true, ['a', 'b', 'a', 'c', 'a'], 1_000);
    expect(await lastCounts()).toEqual({ a: 3, b: 1, c: 1 });
    expect((await readAll(log, 'in-memory-restore-counts-store-changelog')).length).toBeGreaterThan(0);
    await runOnce('in-memory-restore', true, ['a', 'b', 'd'], 10_000);
    expect(await lastCounts()).toEqual({ a: 4, b: 2, c: 1, d: 1 });
  });

  test('with logging disabled has no changelog topic at all and starts empty after a restart', async () => {
    await runOnce('in-memory-no-logging', false, ['a', 'b', 'a'], 1_000);
    expect(await lastCounts()).toEqual({ a: 2, b: 1 });
    await runOnce('in-memory-no-logging', false, ['a', 'c'], 10_000);
    // The state lived only in the process: the count of a starts over (documented).
    expect(await lastCounts()).toEqual({ a: 1, b: 1, c: 1 });
    // TopicPlanner creates no changelog for it and the restore skips it (Kafka Streams creates none either).
    await expect(log.partitionCount('in-memory-no-logging-counts-store-changelog')).rejects.toBeInstanceOf(UnknownTopicError);
  });
});
