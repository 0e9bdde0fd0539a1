/**
 * Issue 21: a stream thread that runs out of its V8 heap (resourceLimits from the memory plan, here
 * a tiny STREAM_HEAP_MB) ends the process promptly, non-zero, with one line naming the thread, its
 * limit and the setting; it never hangs. A restart on the same DATA_DIR then counts every
 * acknowledged event exactly once (every commit is atomic: the restart recovers as after SIGKILL).
 * With chDB's queries (or the sink's inserts) in flight the thread can die inside chDB's addon without
 * reporting its exit (app/threads/WorkerSilence.ts): the process then ends through the silence check
 * and the watchdog.
 */
import { WORKER_SILENCE_LIMIT_MS } from '../../app/threads/PipelineWorker.js';
import { countedOnceAcked, loadUntil, queryUntil, requestOf, withServiceRun, type ServiceExit } from './support/service-under-load.js';

/** Small enough that full-capacity load runs the stream thread out of heap within seconds (the default plan gives 199). */
const TINY_STREAM_HEAP_MB = 48;
/** From the fatal line to the process's end: the orderly stop, or the watchdog's SIGKILL at 5 s. */
const EXIT_BOUND_MS = 8_000;

/**
 * Runs the stream thread out of heap under full-capacity load (and chDB queries, when asked), checks
 * how the process ended with `expectEnd`, restarts on the same DATA_DIR and checks the count.
 */
async function outOfHeapThenRestart(withQueries: boolean, expectEnd: (end: { fatal: { msg: string; at: number }; exit: ServiceExit; lastAckAt: number; output: string }) => void): Promise<void> {
  await withServiceRun('stream-heap', async (run) => {
    const starved = await run.start({ LOG_LEVEL: 'warn', STREAM_HEAP_MB: String(TINY_STREAM_HEAP_MB) });
    const [{ acked, next: sent, lastAckAt }] = await Promise.all([loadUntil(run.port, 8, starved.exited), withQueries ? queryUntil(run.clickhousePort, 4, starved.exited) : undefined]);
    const [fatal, exit] = await Promise.all([starved.fatal, starved.exited]);
    expect(exit.code ?? exit.signal).not.toBe(0);
    expect(starved.output().match(/"level":60/g)).toHaveLength(1);
    expectEnd({ fatal, exit, lastAckAt, output: starved.output() });
    expect(acked.size).toBeGreaterThan(0);

    await run.start({ LOG_LEVEL: 'warn' });
    const { counted, missing } = await countedOnceAcked(run.clickhousePort, acked, 120_000);
    expect(missing).toBe(0);
    // Exactly once: no event twice, and nothing but what was sent (acknowledged, or in flight at the crash).
    expect(new Set(counted).size).toBe(counted.length);
    expect(counted.every((id) => requestOf(id) < sent)).toBe(true);
  });
}

describe('a stream thread out of heap', () => {
  test('the process exits non-zero within the bound with one line naming the thread, the limit and the setting; a restart counts exactly once', async () => {
    await outOfHeapThenRestart(false, ({ fatal, exit }) => {
      expect(exit.at - fatal.at).toBeLessThan(EXIT_BOUND_MS);
      // The sink's inserts also run in chDB's addon on this thread: when one is in flight at the
      // moment the heap runs out, the exit goes unreported as with queries (CI on 916f472), and the
      // silence names the same thread, limit and setting.
      expect(fatal.msg).toMatch(
        new RegExp(
          `^thread stream-1 (ran out of its V8 heap of ${TINY_STREAM_HEAP_MB} MB \\(old generation\\): raise STREAM_HEAP_MB|has sent nothing for \\d+ s: .* \\(if it ran out of its V8 heap of ${TINY_STREAM_HEAP_MB} MB inside chDB's addon: raise STREAM_HEAP_MB\\)): exiting \\(a restart resumes from the last commit\\)$`,
        ),
      );
    });
  }, 300_000);

  test('with chDB queries in flight, where the thread can die without reporting its exit, the process still ends within the bound; a restart counts exactly once', async () => {
    await outOfHeapThenRestart(true, ({ fatal, exit, lastAckAt }) => {
      // Either the exit was reported, or the worker fell silent (WORKER_SILENCE_LIMIT_MS) and the watchdog ended a blocked exit.
      expect(fatal.msg).toMatch(new RegExp(`^thread stream-1 (ran out of its V8 heap of ${TINY_STREAM_HEAP_MB} MB|has sent nothing for \\d+ s).*raise STREAM_HEAP_MB`));
      expect(exit.at - fatal.at).toBeLessThan(EXIT_BOUND_MS);
      // The silence is noticed within a check (1 s, plus one late check) of the limit: measured from
      // the worker's last message, the product's own clock on the thread's death.
      const silentSeconds = /has sent nothing for (\d+) s/.exec(fatal.msg)?.[1];
      if (silentSeconds !== undefined) expect(Number(silentSeconds) * 1000).toBeLessThanOrEqual(WORKER_SILENCE_LIMIT_MS + 2_000);
      // From the last acknowledged request: acknowledgements can stop well before the thread dies
      // (refused at MAX_TOPOLOGY_LAG or the memory line while it thrashes near its limit), by up to
      // ~20 s on a loaded machine (CI on Node 24: 38.0 s in all).
      expect(exit.at - lastAckAt).toBeLessThan(WORKER_SILENCE_LIMIT_MS + EXIT_BOUND_MS + 30_000);
    });
  }, 300_000);
});
