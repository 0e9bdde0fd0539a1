/**
 * Issue 21: an idle stream thread's loop turned ten times a second (a 100 ms poll, a commit of
 * nothing, a lag read each second), which kept every idle isolate allocating. A quiet thread (its
 * last poll empty, nothing buffered or uncommitted) now waits in poll until something on the
 * clock is due, and commits nothing. On a real embedded log served over a port, as the stream
 * threads reach it: the polls the log's thread answers are counted.
 */
import type { RemoteLog } from '../../log/remote/RemoteLog.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';
import { servedInThread, type ServedLog } from '../support/served-log.js';
import { tempDir, removeDir } from '../support/temp-dir.js';

describe('a quiet stream thread', () => {
  let served: ServedLog;
  let remote: RemoteLog;
  let stateDir: string;
  const ops: string[] = [];

  beforeEach(async () => {
    served = await servedInThread('quiet-thread');
    stateDir = tempDir('quiet-thread-state');
    ops.length = 0;
    remote = await served.connect(ops);
  });

  afterEach(async () => {
    await served.cleanup();
    removeDir(stateDir);
  });

  test('polls a few times a second instead of ten, commits nothing, and still processes what comes', async () => {
    const { log } = served;
    await log.ensureTopic('taps', { partitions: 2 });
    const builder = new StreamsBuilder();
    builder.stream<string, { n: number }>('taps').mapValues((tap) => ({ n: tap.n * 2 })).to('taps-doubled');
    const app = new StreamsApp(builder.build(), remote, { applicationId: 'quiet', stateDir, commitIntervalMs: 100 });
    const commits: number[] = [];
    app.on('commit', (event) => commits.push(event.records));
    await app.start();
    try {
      const tap = (n: number) => log.produce([{ topic: 'taps', key: Buffer.from('k'), value: Buffer.from(JSON.stringify({ n })) }]);
      await tap(1);
      await waitForCaughtUp(app, log, 'quiet', ['taps']);

      // Quiet for 2 s: every poll used to wait 100 ms (20 polls, 20 empty commit turns).
      ops.length = 0;
      commits.length = 0;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const polls = ops.filter((op) => op === 'consumerPoll').length;
      expect(polls).toBeGreaterThan(0);
      expect(polls).toBeLessThanOrEqual(8);
      expect(commits).toEqual([]);

      // A record appended while the thread waits is processed and committed.
      await tap(2);
      await waitForCaughtUp(app, log, 'quiet', ['taps']);
      expect(jsonValues<{ n: number }>(await readAll(log, 'taps-doubled')).map((v) => v.n)).toEqual([2, 4]);
    } finally {
      await app.close();
    }
  });
});
