import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { BufferConfig, DLQ_REASON, StreamsApp, StreamsBuilder, Suppressed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * suppress() with shutDownWhenFull: the record that would overfill the buffer fails and is
 * dead-lettered, the buffer keeps what it held (in memory and in its store), nothing it would
 * have emitted is lost, and later records are processed normally.
 */
describe('suppress buffer full', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('suppress-full');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('shutDownWhenFull refuses the overflowing record and leaves the buffer as it was', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream<string, { n: number }>('events')
      .toTable()
      .suppress(Suppressed.untilTimeLimit(60_000, BufferConfig.maxRecords(2, 'shutDownWhenFull')))
      .toStream()
      .to('out');
    await log.ensureTopic('events', { partitions: 1 });
    await log.ensureTopic('out', { partitions: 1 });
    const record = (key: string, n: number, timestamp: number) => ({ topic: 'events', key: Buffer.from(key), value: Buffer.from(JSON.stringify({ n })), timestamp });
    await log.produce([record('a', 1, 1_000), record('b', 2, 2_000), record('c', 3, 3_000), record('a', 4, 4_000), record('d', 5, 200_000)]);
    const app = new StreamsApp(builder.build(), log, { applicationId: 'suppress-full', stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      await waitForCaughtUp(app, log, 'suppress-full', ['events']);
    } finally {
      await app.close();
    }
    const dead = await readAll(log, 'suppress-full-dlq');
    expect(dead.map((r) => r.key!.toString())).toEqual(['c']);
    expect(dead[0]!.headers[DLQ_REASON]?.toString()).toContain('exceeded its capacity');
    // a@4000 replaced a's value in place; d's time evicted a and b (c never entered); d stays buffered.
    const out = (await readAll(log, 'out')).map((r) => `${r.key!.toString()}=${r.value!.toString()}@${r.timestamp}`);
    expect(out).toEqual(['a={"n":4}@4000', 'b={"n":2}@2000']);
  });
});
