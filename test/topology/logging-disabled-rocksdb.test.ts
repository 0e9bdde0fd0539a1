import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { SessionWindows, SlidingWindows, StreamsApp, StreamsBuilder, TimeWindows, type Topology, type Windowed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const APP = 'unlogged';
const STORES = ['counts', 'tumbling', 'sessions', 'sliding'];

/**
 * Materialized.withLoggingDisabled() (`loggingEnabled: false`) on RocksDB stores: a key-value
 * count, a tumbling-window count, a session count and a sliding-window count. No changelog topic,
 * nothing restored; the state stays in the task directory across clean restarts and is gone
 * with the directory (topology/dsl/LoggingDisabled.ts; after a crash: logging-disabled-crash.test.ts).
 */
describe('RocksDB stores with logging disabled', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('unlogged-rocksdb');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    await log.ensureTopic('events', { partitions: 2 });
    await log.ensureTopic('out', { partitions: 1 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const topology = (): Topology => {
    const builder = new StreamsBuilder();
    const grouped = builder.stream<string, { n: number }>('events').groupByKey();
    const label = (kind: string) => (windowed: Windowed<string>, count: number | null): [string, number | null] => [`${kind}:${windowed.key}@${windowed.windowStart}`, count];
    grouped.count({ name: 'counts', loggingEnabled: false }).toStream().map((key, count) => [`count:${key}`, count]).to('out');
    grouped.windowedBy(TimeWindows.ofSizeWithNoGrace(60_000)).count({ name: 'tumbling', loggingEnabled: false }).toStream().map(label('tumbling')).to('out');
    grouped.windowedBy(SessionWindows.ofInactivityGapWithNoGrace(10_000)).count({ name: 'sessions', loggingEnabled: false }).toStream().map(label('session')).to('out');
    grouped.windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(10_000)).count({ name: 'sliding', loggingEnabled: false }).toStream().map(label('sliding')).to('out');
    return builder.build();
  };

  async function run(keys: string[], timestamp: number): Promise<void> {
    await log.produce(keys.map((key, i) => ({ topic: 'events', key: Buffer.from(key), value: Buffer.from(JSON.stringify({ n: i })), timestamp: timestamp + i })));
    const app = new StreamsApp(topology(), log, { applicationId: APP, stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      await waitForCaughtUp(app, log, APP, ['events']);
    } finally {
      await app.close();
    }
  }

  /** The last value written per output key. */
  const last = async () => {
    const latest = new Map<string, unknown>();
    for (const r of await readAll(log, 'out')) latest.set(r.key!.toString(), r.value === null ? null : JSON.parse(r.value.toString()));
    return latest;
  };

  test('no changelog topic is created for them, and none is written', async () => {
    await run(['a', 'b'], 1_000);
    const topics = await log.listTopics();
    for (const store of STORES) expect(topics).not.toContain(`${APP}-${store}-changelog`);
    // The only changelog is the runtime's own (the task's persisted stream time), none of a store.
    expect(topics.filter((topic) => topic.endsWith('-changelog') && !topic.endsWith('-stream-time-changelog'))).toEqual([]);
  });

  test('the state survives a clean restart: counts, windows and sessions go on', async () => {
    await run(['a', 'a', 'b'], 1_000);
    await run(['a', 'b'], 2_000);
    const latest = await last();
    expect(latest.get('count:a')).toBe(3);
    expect(latest.get('count:b')).toBe(2);
    expect(latest.get('tumbling:a@0')).toBe(3);
    // One session per key (all within 10 s), three records in it after the restart.
    expect(latest.get('session:a@1000')).toBe(3);
    // a@2000's left window [-8000 → 0, 2000] holds a@1000, a@1001 and a@2000.
    expect(latest.get('sliding:a@0')).toBe(3);
  });

  test('losing the state directory loses the state: nothing restores it', async () => {
    await run(['a', 'a', 'b'], 1_000);
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    await run(['a'], 2_000);
    const latest = await last();
    expect(latest.get('count:a')).toBe(1);
    expect(latest.get('tumbling:a@0')).toBe(1);
    expect(latest.get('session:a@2000')).toBe(1);
  });
});
