/**
 * A sink child SIGKILLed between a flush round's table inserts: the round's events_raw block is
 * in ClickHouse, its attempts block is not, nothing is committed. Restarted with other batch
 * settings, then again killed before its first attempts insert (the recorded round must be
 * rebuilt whole, not as the new settings would cut it), then run to the end: both tables and the
 * view hold every row once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { parseRound } from '../../sink/SinkRound.js';
import { runFixture } from '../support/fixture-process.js';
import { tempDir } from '../support/temp-dir.js';
import { envelope, generateEvents } from './generate.js';

const PARTITIONS = 3;
const TOPIC = 'events.rounds';
const GROUP = 'round-crash-sink';

describe('a sink SIGKILLed between the table inserts of a flush round (embedded log)', () => {
  const dir = tempDir('round-crash');
  const now = Date.now();
  const events = generateEvents(3000, now, 10, 5).map((event, i) =>
    i % 4 === 0
      ? { event_id: `attempt-${i}`, event_type: 'attempt', source: 'seed000', received_at: now, payload: { client_attempt_id: `attempt-${i}`, user_id: event.user_id, item_id: 'i1', time_taken_ms: 5, timestamp: now - 1000 } }
      : envelope(event),
  );
  const attempts = events.filter((event) => event.event_type === 'attempt').length;
  const tps = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }));
  const env = (extra: Record<string, string>) => ({ SINK_DIR: dir, SINK_TOPIC: TOPIC, SINK_GROUP: GROUP, SINK_POISON: '1', ...extra });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function inspect() {
    const log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    const offsets = await log.committedOffsets(GROUP, tps);
    const committed = [...offsets.values()].reduce((a, b) => a + b, 0);
    // Record i went to partition i % 3 at offset i / 3: the attempts the committed offsets cover.
    const committedAttempts = events.filter((event, i) => event.event_type === 'attempt' && Math.floor(i / PARTITIONS) < (offsets.get(`${TOPIC}:${i % PARTITIONS}`) ?? 0)).length;
    await log.close();
    const store = await ChdbStore.open({ path: path.join(dir, 'chdb') });
    try {
      const one = async (sql: string) => (await store.query<{ n: number }>(sql))[0]!.n;
      const rounds = await store.query<{ round: string }>('SELECT DISTINCT round FROM events_db.sink_batches');
      return {
        committed,
        committedAttempts,
        rounds: rounds.map((row) => row.round),
        counts: {
          raw: await one('SELECT count() AS n FROM events_db.events_raw'),
          distinct: await one('SELECT uniqExact(partition, offset) AS n FROM events_db.events_raw'),
          mv: await one('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly'),
          attempts: await one('SELECT count() AS n FROM events_db.attempts'),
          distinctAttempts: await one('SELECT uniqExact(client_attempt_id) AS n FROM events_db.attempts'),
        },
      };
    } finally {
      await store.close();
    }
  }

  test('every table and the view hold every row once', async () => {
    const log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic(TOPIC, { partitions: PARTITIONS });
    await log.produce(events.map((event, i) => ({ topic: TOPIC, partition: i % PARTITIONS, key: null, value: Buffer.from(JSON.stringify(event)) })));
    await log.close();

    // 1st run: killed before its first attempts insert, i.e. after its first round's events_raw
    // block. Batches far from full, cut by a linger long enough for every partition to be polled:
    // the round holds several partitions (a round holds at most SINK_MAX_BATCH records in all).
    const first = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_CRASH_BEFORE_TABLE: 'attempts:1', SINK_MAX_BATCH: '5000', SINK_LINGER_MS: '300' }), { stdinData: '(1)\n' });
    expect(first.signal).toBe('SIGKILL');
    const crashed = /CRASHING before attempts (\S+)/.exec(first.stdout)?.[1];
    expect(crashed).toBeDefined();
    const afterFirst = await inspect();
    // The killed round names several partitions, its events_raw block is in, its attempts are not.
    expect(afterFirst.rounds).toContain(crashed);
    expect(parseRound(crashed!).length).toBeGreaterThan(1);
    expect(afterFirst.counts.raw).toBe(afterFirst.counts.distinct);
    expect(afterFirst.counts.raw).toBeGreaterThan(afterFirst.committed);
    expect(afterFirst.counts.attempts).toBe(afterFirst.committedAttempts);

    // 2nd run, other batch settings: the first attempts insert it makes is the recorded round's.
    const second = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_CRASH_BEFORE_TABLE: 'attempts:1', SINK_MAX_BATCH: '150', SINK_LINGER_MS: '1' }), {});
    expect(second.signal).toBe('SIGKILL');
    expect(second.stdout).toContain(`CRASHING before attempts ${crashed}`);
    const afterSecond = await inspect();
    expect(afterSecond.counts).toEqual(afterFirst.counts);
    expect(afterSecond.committed).toBe(afterFirst.committed);

    // 3rd run finishes.
    const third = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_MAX_BATCH: '1000', SINK_LINGER_MS: '50' }), {});
    expect(third.stderr).toBe('');
    expect(third.code).toBe(0);
    const final = await inspect();
    expect(final.committed).toBe(events.length);
    expect(final.counts).toEqual({ raw: events.length, distinct: events.length, mv: events.length, attempts, distinctAttempts: attempts });
  }, 300_000);
});
