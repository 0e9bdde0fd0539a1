import fs from 'node:fs';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Log, TransactionalProducer } from '../../log/Log.js';
import { EmbeddedLogThread } from '../../log/remote/EmbeddedLogThread.js';
import { LogServerGoneError } from '../../log/remote/RemoteErrors.js';
import type { RemoteLog } from '../../log/remote/RemoteLog.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * A StreamsApp over a RemoteLog whose server (the embedded log's worker thread) goes away. The
 * log will never answer again: the topology must stop with state ERROR at once, not take it for
 * an outage and back off forever (or retry the assignment ten times) while reporting RUNNING.
 */
describe('a StreamsApp whose remote log server goes away', () => {
  let dir: string;
  let thread: EmbeddedLogThread;
  let remote: RemoteLog;
  let warnings: string[];
  let app: StreamsApp | undefined;

  beforeEach(async () => {
    dir = tempDir('log-server-gone');
    thread = await EmbeddedLogThread.start({ dir: `${dir}/log`, cleanupIntervalMs: 0, memory: { blockCacheBytes: 8 << 20, memtableBudgetBytes: 16 << 20 } });
    remote = await thread.connect();
    await remote.ensureTopic('clicks', { partitions: 2 });
    warnings = [];
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await remote.close();
    await thread.worker.terminate();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Warnings and errors the app logs, as their messages. */
  function capturingLogger(): pino.Logger {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        warnings.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        done();
      },
    });
    return pino({ level: 'warn' }, sink);
  }

  function countingApp(log: Log): StreamsApp {
    const builder = new StreamsBuilder();
    builder
      .stream<string, { n: number }>('clicks')
      .groupByKey()
      .count({ name: 'clicks-per-user' })
      .toStream()
      .to('click-counts');
    return new StreamsApp(builder.build(), log, { applicationId: 'gone', stateDir: `${dir}/state`, commitIntervalMs: 20, logger: capturingLogger() });
  }

  const clicks = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({ topic: 'clicks', key: Buffer.from(`user-${(from + i) % 4}`), value: Buffer.from(JSON.stringify({ n: from + i })) }));

  async function retriesCounted(target: StreamsApp): Promise<number> {
    return (await target.metrics.retries.get()).values.reduce((sum, sample) => sum + sample.value, 0);
  }

  async function expectStoppedOnGoneServer(target: StreamsApp, failed: Promise<unknown[]>): Promise<void> {
    const [error] = await failed;
    expect(error).toBeInstanceOf(LogServerGoneError);
    expect(target.state).toBe('ERROR');
    expect(target.error).toBe(error);
    expect(await retriesCounted(target)).toBe(0);
    expect(warnings.filter((message) => /retrying/.test(message))).toEqual([]);
    expect(warnings).toContain('topology stopped on an error');
    // Closing after the server is gone neither hangs nor throws.
    await target.close();
    expect(target.state).toBe('NOT_RUNNING');
  }

  test('while the app waits in poll: state ERROR with the LogServerGoneError', async () => {
    app = countingApp(remote);
    const failed = once(app, 'error');
    await app.start();
    await app.whenAssigned();
    await remote.produce(clicks(0, 40));
    await waitForCaughtUp(app, remote, 'gone', ['clicks']);
    expect(await readAll(remote, 'click-counts')).toHaveLength(40);

    await thread.worker.terminate();
    await expectStoppedOnGoneServer(app, failed);
  });

  test('in the middle of a commit: no backoff and no task rebuild against a log that cannot answer', async () => {
    // The real RemoteLog, whose producer's next begin() first ends the log's thread: the commit
    // then meets the server gone in its own step, with processed work drained and uncommitted.
    let endServerAtNextBegin = false;
    const ending: Log = Object.assign(Object.create(remote) as Log, {
      createTransactionalProducer: async (id: string): Promise<TransactionalProducer> => {
        const producer = await remote.createTransactionalProducer(id);
        return {
          transactionalId: producer.transactionalId,
          begin: async () => {
            if (endServerAtNextBegin) await thread.worker.terminate();
            return producer.begin();
          },
          close: () => producer.close(),
        };
      },
    });
    app = countingApp(ending);
    const failed = once(app, 'error');
    await app.start();
    await app.whenAssigned();
    await remote.produce(clicks(0, 40));
    await waitForCaughtUp(app, remote, 'gone', ['clicks']);

    endServerAtNextBegin = true;
    await remote.produce(clicks(40, 40));
    await expectStoppedOnGoneServer(app, failed);
    expect((await app.metrics.commits.get()).values.find((v) => v.labels.result === 'failed')?.value).toBe(1);
  });

  test('while an assigned task restores its store: the assignment is not retried', async () => {
    // A first run leaves a changelog to restore from, and no local state.
    const first = countingApp(remote);
    await first.start();
    await first.whenAssigned();
    await remote.produce(clicks(0, 200));
    await waitForCaughtUp(first, remote, 'gone', ['clicks']);
    await first.close();
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });

    app = countingApp(remote);
    const failed = once(app, 'error');
    const restoring: string[] = [];
    app.on('restoring', ({ task, store }: { task: string; store: string }) => {
      if (restoring.push(`${task}/${store}`) === 1) void thread.worker.terminate();
    });
    await app.start();
    await expectStoppedOnGoneServer(app, failed);
    // The two tasks are set up side by side, so both may have begun; a retried assignment would
    // begin a store a second time.
    expect(restoring.length).toBeGreaterThan(0);
    expect(new Set(restoring).size).toBe(restoring.length);
  });
});
