/**
 * A sink whose cut record landed when its group session could no longer be shown to hold (the
 * lease ran out, or a loss was noted, while sink_batches took the record) must not insert that
 * round on a later try just because the cut is recorded now: the partitions' new owner may have
 * read sink_batches before the record and cut the same records its own way. It inserts only once a
 * heartbeat sent after the doubt is answered in the same session (sink/RoundWriter.ts). The
 * answers of the group are scripted here over the embedded log's consumer (which has no session
 * of its own); the log and chDB are real.
 */
import type { Log, LogConsumer, SessionLease } from '../../log/Log.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';
import { withMethods } from '../support/with-methods.js';

const TOPIC = 'lease.doubt';

describe('a cut recorded while the group session could not be shown to hold', () => {
  const suite = logAndChdbPerSuite('lease-doubt');

  test('is not inserted until the same session is confirmed again, then lands once', async () => {
    await suite.log.ensureTopic(TOPIC, { partitions: 1 });
    const events = generateEvents(100, Date.now(), 1, 5);
    await suite.log.produce(events.map((event) => ({ topic: TOPIC, partition: 0, key: null, value: Buffer.from(JSON.stringify(envelope(event))) })));

    // The group's answers, in order: before the record the lease holds; after it, it has run out;
    // asked again (fresh), it cannot confirm, then a loss is noted (another epoch), until `confirm`.
    const asked: string[] = [];
    let confirm = false;
    const leases = [{ remainingMs: 5_000, epoch: 0 }, { remainingMs: 0, epoch: 0 }];
    const sessionLease = async (options?: { fresh?: boolean }): Promise<SessionLease> => {
      asked.push(options?.fresh ? 'fresh' : 'lease');
      const scripted = leases.shift();
      if (scripted) return scripted;
      if (confirm) return { remainingMs: 5_000, epoch: 0 };
      return asked.length % 2 === 0 ? { remainingMs: 0, epoch: 0 } : { remainingMs: 5_000, epoch: 1 };
    };
    const log = withMethods<Log>(suite.log, { createConsumer: (options) => withMethods<LogConsumer>(suite.log.createConsumer(options), { sessionLease }) });
    const sink = new ClickHouseSink({ log, store: suite.chdb, routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }], groupId: 'lease-doubt-sink', maxBatchRecords: 1_000, lingerMs: 20 });
    const rows = async () => Number((await suite.chdb.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw'))[0]!.n);
    const recorded = async () => Number((await suite.chdb.query<{ n: number }>("SELECT count() AS n FROM events_db.sink_batches WHERE sink = 'lease-doubt-sink'"))[0]!.n);
    await sink.start();
    try {
      await waitFor('the round to be asked about again, in doubt', () => asked.filter((a) => a === 'fresh').length >= 4, 30_000);
      expect(await recorded()).toBe(1);
      expect(await rows()).toBe(0);
      confirm = true;
      await waitFor('the round to land once the session is confirmed', async () => (await rows()) === events.length, 30_000);
    } finally {
      await sink.stop();
    }
    expect(await rows()).toBe(events.length);
    expect(await recorded()).toBe(1);
    expect(asked.slice(0, 3)).toEqual(['lease', 'lease', 'fresh']);
  }, 90_000);
});
