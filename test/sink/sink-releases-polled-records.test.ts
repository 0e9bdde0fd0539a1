import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { LogRecord } from '../../log/Log.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { rawEventMapper, type RowMapper } from '../../sink/RowMappers.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from './FlakyStore.js';
import { GatedStore } from './GatedStore.js';
import { numberedEvents } from './generate.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOPIC = 'events.raw';
const BATCH = 20;

/**
 * A flush may last long (catching up, it writes round after round), and the sink's loop goes on
 * polling meanwhile. Each turn of that loop used to race its poll against the flush's promise: one
 * more reaction on it per turn, each holding its turn's polled records until the flush ended. At
 * the Kafka capacity phase that held ~200 MB in stream-1's heap (BENCHMARKS.md, "The sink held
 * what it polled during a flush") and ran the thread out of its heap. Here: a flush held open by
 * its third insert; the records of its second, polled while it ran and written by it, must be
 * collectable before the flush ends.
 */
describe('ClickHouseSink lets go of records written while a flush is still running', () => {
  const dir = tempDir('sink-releases');
  let log: EmbeddedLog;

  beforeAll(async () => {
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic(TOPIC, { partitions: 1 });
  });
  afterAll(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const produce = (from: number, count: number) => log.produce(numberedEvents(TOPIC, from, count));

  it('records of an earlier round of the flush in flight can be garbage collected', async () => {
    const store = new GatedStore();
    const mapped = new Map<number, WeakRef<LogRecord>>();
    const remembering: RowMapper = (value, record) => {
      mapped.set(record.offset, new WeakRef(record));
      return rawEventMapper(value, record);
    };
    const sink = new ClickHouseSink({ log, store, routes: [{ topic: TOPIC, table: 'events_raw', map: remembering }], groupId: 'releases', lingerMs: 20, maxBatchRecords: BATCH });
    await sink.start();
    try {
      // Round 0: 5 records, its insert held. Meanwhile a full batch (offsets 5-24) is polled.
      await produce(0, 5);
      await waitFor('the first insert', () => store.insertsStarted === 1);
      await produce(5, BATCH);
      await waitFor('the full batch polled while the first insert is held', () => sink.status().buffered === 5 + BATCH);
      store.release(1);
      // Round 1 writes the full batch, held too while the next full batch (offsets 25-44) is polled.
      await waitFor('the second insert', () => store.insertsStarted === 2);
      await produce(5 + BATCH, BATCH);
      await waitFor('the next full batch polled', () => sink.status().buffered === 2 * BATCH);
      store.release(2);
      // Round 2, still the same flush, is held: round 1's records are written and committed.
      await waitFor('the third insert', () => store.insertsStarted === 3);
      expect(store.rows.map((row) => row.event_id)).toEqual(Array.from({ length: 5 + BATCH }, (_, i) => `e${i}`));
      const roundOne = Array.from({ length: BATCH }, (_, i) => mapped.get(5 + i)!);
      expect(roundOne.every((ref) => ref !== undefined)).toBe(true);
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(roundOne.filter((ref) => ref.deref() !== undefined).map((ref) => ref.deref()!.offset)).toEqual([]);
      store.release(3);
      await waitFor('every row', () => store.rows.length === 5 + 2 * BATCH);
    } finally {
      store.release();
      await sink.stop();
    }
  });
});
