/**
 * Issue 21, the last resort of a SIGTERM: a worker whose stop cannot finish in time (here its
 * ClickHouse HTTP listener waits for a read chDB cannot interrupt, longer than
 * WORKER_STOP_TIMEOUT_MS) is terminated with that read in flight, which can leave the thread
 * blocked inside chDB's addon and process.exit waiting on it. The process still ends within the
 * first signal's exit bound (app/main.ts: the exit watchdog), the log names the thread that did
 * not stop, and a restart counts every acknowledged event once.
 */
import { WORKER_STOP_TIMEOUT_MS } from '../../app/threads/PipelineWorker.js';
import { countedOnceAcked, loadUntil, withServiceRun } from './support/service-under-load.js';

/** app/main.ts's FIRST_SIGNAL_EXIT_MS, plus the watchdog's 100 ms checks and a loaded machine's slack. */
const EXIT_BOUND_MS = 15_000 + 3_000;
/** A read that runs until CLICKHOUSE_HTTP_MAX_EXECUTION_TIME (60 s by default) stops it: far past the worker's stop timeout. */
/** Time for the read to reach chDB before the signal. */
const READ_LEAD_MS = 3_000;
const LONG_READ = 'SELECT count() FROM numbers(1000000000000) WHERE NOT ignore(sipHash64(number))';

describe('SIGTERM with a worker that cannot stop in time', () => {
  test('the process ends within the exit bound, the log names the thread, and a restart counts every acknowledged event once', async () => {
    await withServiceRun('sigterm-stuck', async ({ port, clickhousePort, start }) => {
      const service = await start();
      // The read answers only when it ends (no progress headers, no in-flight gauge): the signal
      // comes READ_LEAD_MS after it was sent, and the stop's length below shows the read held it.
      void fetch(`http://127.0.0.1:${clickhousePort}/?query=${encodeURIComponent(LONG_READ)}`).catch(() => undefined);
      const terminated = new Promise<number>((resolve) =>
        setTimeout(() => {
          service.child.kill('SIGTERM');
          resolve(Date.now());
        }, READ_LEAD_MS),
      );
      const load = await loadUntil(port, 4, service.exited);
      const [sentAt, exit] = await Promise.all([terminated, service.exited]);
      process.stdout.write(`SIGTERM to exit with a read in flight: ${exit.at - sentAt} ms, ${exit.signal ?? `code ${exit.code}`}\n`);
      expect(exit.at - sentAt).toBeGreaterThanOrEqual(WORKER_STOP_TIMEOUT_MS);
      expect(exit.at - sentAt).toBeLessThan(EXIT_BOUND_MS);
      expect(service.errors()).toContain('stop failed');
      // A stop that failed is not a clean exit: code 1, or the watchdog's SIGKILL when process.exit
      // itself waits on the thread stuck in chDB's addon.
      expect(exit.code === 1 || exit.signal === 'SIGKILL').toBe(true);
      expect(service.errors()).toContain('shutdown failed');
      expect(service.output()).toContain(`thread stream-1: it did not stop within ${WORKER_STOP_TIMEOUT_MS / 1000} s; terminated`);
      expect(load.acked.size).toBeGreaterThan(0);

      await start();
      const { counted, missing } = await countedOnceAcked(clickhousePort, load.acked, 120_000);
      expect(missing).toBe(0);
      expect(new Set(counted).size).toBe(counted.length);
    });
  }, 300_000);
});
