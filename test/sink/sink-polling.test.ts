import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { LogConsumer } from '../../log/Log.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from './FlakyStore.js';
import { GatedStore } from './GatedStore.js';
import { numberedEvents } from './generate.js';

const TOPIC = 'events.raw';
const LINGER_MS = 100;
/** How long the test holds one insert of events_raw in flight. */
const HOLD_MS = 600;

describe('ClickHouseSink polling while an insert is in flight', () => {
  const dir = tempDir('sink-polling');
  let log: EmbeddedLog;
  let polls = 0;
  let lagReads = 0;

  beforeAll(async () => {
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic(TOPIC, { partitions: 1 });
    // Count what the sink asks of the log: polls, and the end offsets each flush reads for its lag.
    const createConsumer = log.createConsumer.bind(log);
    log.createConsumer = (options) => {
      const consumer: LogConsumer = createConsumer(options);
      const poll = consumer.poll.bind(consumer);
      consumer.poll = (max, timeout) => (polls++, poll(max, timeout));
      return consumer;
    };
    const endOffset = log.endOffset.bind(log);
    log.endOffset = (tp) => (lagReads++, endOffset(tp));
  });
  afterAll(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const produce = (from: number, count: number) => log.produce(numberedEvents(TOPIC, from, count));

  it('waits for the poll or the flush, not a poll every 5 ms, and writes every record once', async () => {
    const store = new GatedStore();
    const sink = new ClickHouseSink({ log, store, routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }], groupId: 'polling', lingerMs: LINGER_MS });
    await sink.start();
    try {
      await produce(0, 10);
      await waitFor('the first insert to start', () => store.insertsStarted === 1);
      const pollsBefore = polls;
      // The insert is held for HOLD_MS: a poll with the 5 ms cap made ~HOLD_MS / 5 polls meanwhile;
      // one waiting for the poll's own timeout (<= the linger) or the flush's end makes ~HOLD_MS / LINGER_MS.
      await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
      const pollsWhileHeld = polls - pollsBefore;
      expect(pollsWhileHeld).toBeLessThanOrEqual(HOLD_MS / LINGER_MS + 3);

      // Records that arrive while the insert is held are written by the next flush once it ends.
      await produce(10, 5);
      store.release();
      await waitFor('all 15 rows', () => store.rows.length === 15);
      expect(store.rows.map((row) => row.event_id)).toEqual(Array.from({ length: 15 }, (_, i) => `e${i}`));
      expect(store.insertsStarted).toBe(2);

      // Idle afterwards: no flush of nothing comes round again at once (each flush reads the lag).
      const lagBefore = lagReads;
      const idlePollsBefore = polls;
      await new Promise((resolve) => setTimeout(resolve, 4 * LINGER_MS));
      expect(polls - idlePollsBefore).toBeLessThanOrEqual(4 + 2);
      expect(lagReads - lagBefore).toBeLessThanOrEqual(polls - idlePollsBefore + 1);
    } finally {
      store.release();
      await sink.stop();
    }
  });
});
