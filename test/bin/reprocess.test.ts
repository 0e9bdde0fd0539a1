import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { tempDir } from '../support/temp-dir.js';
import { landingEvents, produceLanding, runUntilCaughtUp, streamline, type PipelineTopics, type Snapshot } from './reprocess-scenario.js';

/** REPROCESS_EVENTS overrides the count (the issue asks 50k; see docs/REPROCESSING.md for what was measured). */
const COUNT = Number(process.env.REPROCESS_EVENTS ?? 50_000);
const TOPICS: PipelineTopics = { landing: 'events.raw', clean: 'events.clean', aggregates: 'processor.aggregates', applicationId: 'streamline', sinkGroup: 'clickhouse-sink' };

describe('streamline reprocess on the embedded log: the tables equal the from-scratch run, nothing doubled', () => {
  const dataDir = tempDir('reprocess');
  // A grace longer than the events' six hours: no record is dropped as late. With the default 5m,
  // which records are late depends on how partitions interleave into the repartition topics, so
  // two from-scratch runs would not agree either (as in Kafka Streams).
  const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SINK_BATCH_LINGER: '50ms', AGGREGATION_GRACE: '24h' };
  const events = landingEvents(COUNT, Date.now());
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let firstSnapshot: Snapshot | undefined;

  test(`${COUNT} events processed, reprocessed from earliest, processed again`, async () => {
    const log = await openEmbeddedLog({ dir: path.join(dataDir, 'log') });
    await produceLanding(log, TOPICS.landing, events);
    await log.close();

    // The from-scratch run: a fresh data directory processing the retained history once.
    const first = await runUntilCaughtUp(env, TOPICS, events.distinct, 600_000);
    expect(first.snapshot.events_raw!.rows).toBe(events.distinct);
    expect(first.snapshot.window_aggregates!.rows).toBeGreaterThan(0);
    expect(first.snapshot.event_metrics_hourly!.hash.endsWith(`/${events.distinct}`)).toBe(true);
    console.log(`[reprocess embedded] first run ${COUNT} events: ${first.cpuMs} ms CPU`);

    const dry = await streamline(['reprocess', '--from', 'earliest', '--dry-run'], env);
    expect(dry.stderr).toBe('');
    expect(dry.stdout).toContain(`input events.raw: ${events.values.length} retained records, oldest ${new Date(events.values[0]!.timestamp).toISOString()}`);
    expect(dry.stdout).toMatch(/delete \d+ internal topics: streamline-/);

    const unconfirmed = await streamline(['reprocess', '--from', 'earliest'], env);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toMatch(/confirm with --yes/);

    const reprocess = await streamline(['reprocess', '--from', 'earliest', '--yes'], env);
    expect(reprocess.stderr).toBe('');
    expect(reprocess.code).toBe(0);
    expect(reprocess.stdout).toMatch(new RegExp(`events_raw ${events.distinct} -> 0`));
    expect(fs.existsSync(path.join(dataDir, 'state', 'streamline'))).toBe(false);

    const second = await runUntilCaughtUp(env, TOPICS, events.distinct, 600_000);
    console.log(`[reprocess embedded] reprocess of ${COUNT} events: ${second.cpuMs} ms CPU`);
    // Not doubled, and equal to the from-scratch run table by table.
    expect(second.snapshot.events_raw!.rows).toBe(events.distinct);
    expect(second.snapshot).toEqual(first.snapshot);
    firstSnapshot = first.snapshot;
  }, 1_500_000);

  test('reprocess from a time: rows from before it stay, the rest is rebuilt once', async () => {
    expect(firstSnapshot).toBeDefined();
    // Half-way through the six hours of events, on an hour boundary.
    const middle = events.values[Math.floor(events.values.length / 2)]!.timestamp;
    const from = Math.floor(middle / 3_600_000) * 3_600_000;
    const before = await snapshotOf(from);
    const reprocess = await streamline(['reprocess', '--from', new Date(from).toISOString(), '--yes'], env);
    expect(reprocess.stderr).toBe('');
    expect(reprocess.code).toBe(0);
    // Only part of events_raw was deleted.
    const cut = /events_raw (\d+) -> (\d+)/.exec(reprocess.stdout);
    expect(Number(cut![1])).toBe(events.distinct);
    expect(Number(cut![2])).toBeGreaterThan(0);
    expect(Number(cut![2])).toBeLessThan(events.distinct);

    const third = await runUntilCaughtUp(env, TOPICS, events.distinct, 600_000, { windowsEndingBy: from });
    // Stateless tables and the hourly view equal the from-scratch run; windows that ended by the
    // time are untouched (windows containing it are recounted from it: docs/REPROCESSING.md).
    expect(third.snapshot).toEqual(before);
    const { window_aggregates: _windows, ...stateless } = third.snapshot;
    const { window_aggregates: _firstWindows, ...firstStateless } = firstSnapshot!;
    expect(stateless).toEqual(firstStateless);
  }, 1_500_000);

  /** The tables as they are now, windows limited to those ended by `windowsEndingBy`. */
  async function snapshotOf(windowsEndingBy: number): Promise<Snapshot> {
    return (await runUntilCaughtUp(env, TOPICS, events.distinct, 600_000, { windowsEndingBy })).snapshot;
  }
});
