import fs from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { bufferSerde, stringSerde } from '../../state/Serde.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * A task lets go of a record once it is processed. Records from the log thread are views into
 * their fetch's whole buffer (~2 MB), so a processed record kept in its input queue until the
 * queue is compacted (after 1,024) pinned 48-125 MB of fetch buffers at full capacity
 * (bench/stream-heap.ts). Here: fewer records than the compaction point, each value held only
 * weakly by the test, all collectable once processed while the app keeps running.
 */
describe('processed records are released by their task', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('records-released');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a processed record value can be garbage collected while the app runs', async () => {
    await log.ensureTopic('input', { partitions: 1 });
    await log.produce(Array.from({ length: 200 }, (_, n) => ({ topic: 'input', key: Buffer.from(`k${n % 5}`), value: Buffer.alloc(16 * 1024, n) })));
    const seen: WeakRef<Buffer>[] = [];
    const builder = new StreamsBuilder();
    builder
      .stream<string, Buffer>('input', { keySerde: stringSerde, valueSerde: bufferSerde })
      .peek((_key, value) => void seen.push(new WeakRef(value)))
      .mapValues((value) => value.length)
      .to('lengths');
    const app = new StreamsApp(builder.build(), log, { applicationId: 'released', stateDir: `${dir}/state`, commitIntervalMs: 20 });
    try {
      await app.start();
      await waitForCaughtUp(app, log, 'released', ['input']);
      expect(seen).toHaveLength(200);
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(seen.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    } finally {
      await app.close();
    }
  });
});
