/**
 * Issue 21: a SIGTERM under steady bulk load (and chDB queries) stops the process in order and
 * promptly: intake stops, the sink finishes its in-flight chDB insert (a flush catching up a
 * backlog ends after its round), commits and closes chDB, the topology commits, and the process
 * exits 0 within STOP_BOUND_MS, saying it stopped; it never hangs on a thread torn down inside
 * chDB's addon. Stopped that way several times on one DATA_DIR, a restart then counts every
 * acknowledged event exactly once.
 */
import { analyticsUntil, countedOnceAcked, loadUntil, queryUntil, requestOf, withServiceRun } from './support/service-under-load.js';

/** From the SIGTERM to the process's end. */
const STOP_BOUND_MS = 10_000;
/** SIGTERMs in a row, each after this long under load. */
const STOPS = 5;
const LOAD_MS = 6_000;
/**
 * The last round's load, from more connections: the topology and the sink fall behind, so the stop
 * finds the sink catching up (tens of thousands of records buffered, a flush of round after
 * round in flight: before the stop ended such a flush after its round, it waited for all of it).
 */
const BACKLOG_LOAD_MS = 40_000;
const BACKLOG_CONNECTIONS = 16;

describe('SIGTERM under load', () => {
  test(`exits 0 within ${STOP_BOUND_MS / 1000} s saying it stopped, ${STOPS} times in a row; a restart counts every acknowledged event once`, async () => {
    const acked = new Set<number>();
    const refused = new Set<number>();
    let nextRequest = 0;
    const stopTimes: string[] = [];
    await withServiceRun('sigterm', async ({ port, clickhousePort, start }) => {
      for (let stop = 0; stop < STOPS; stop++) {
        const backlogRound = stop === STOPS - 1;
        const service = await start();
        let hung: NodeJS.Timeout | undefined;
        const terminated = new Promise<number>((resolve) =>
          setTimeout(() => {
            service.child.kill('SIGTERM');
            resolve(Date.now());
            // A hung stop is killed well past the bound, so the round fails instead of the test timing out.
            hung = setTimeout(() => service.child.kill('SIGKILL'), STOP_BOUND_MS * 3);
          }, backlogRound ? BACKLOG_LOAD_MS : LOAD_MS),
        );
        // Every other round with chDB queries in flight too, on the thread that inserts: reads on its
        // ClickHouse HTTP listener, seed 004's GET /metrics and GET /ready through the HTTP thread.
        const withQueries = stop % 2 === 1;
        const [load] = await Promise.all([
          loadUntil(port, backlogRound ? BACKLOG_CONNECTIONS : 8, service.exited, nextRequest),
          withQueries ? queryUntil(clickhousePort, 2, service.exited) : undefined,
          withQueries ? analyticsUntil(port, service.exited) : undefined,
        ]);
        const sentAt = await terminated;
        const exit = await service.exited;
        clearTimeout(hung);
        const buffered = /"buffered":(\d+),"msg":"ClickHouse sink stopped"/.exec(service.output())?.[1];
        const steps = /"steps":(\{[^}]*\}),"msg":"thread stopped"/.exec(service.output())?.[1];
        stopTimes.push(`${exit.at - sentAt} ms (sink buffered ${buffered}, ${steps})`);
        const messages = service.messages();
        if (exit.code !== 0) process.stdout.write(`round ${stop}: ${service.output().slice(-4000)}\n`);
        expect({ stop, code: exit.code, signal: exit.signal }).toEqual({ stop, code: 0, signal: null });
        expect(exit.at - sentAt).toBeLessThan(STOP_BOUND_MS);
        expect(messages).toContain('shutting down');
        expect(messages).toContain('ClickHouse sink stopped');
        expect(messages).toContain('thread stopped');
        expect(messages.at(-1)).toBe('stopped');
        expect(service.errors()).toEqual([]);
        expect(load.acked.size).toBeGreaterThan(0);
        for (const request of load.acked) acked.add(request);
        for (const request of load.refused) refused.add(request);
        nextRequest = load.next;
      }
      await start();
      const { counted, missing } = await countedOnceAcked(clickhousePort, acked, 120_000);
      expect(missing).toBe(0);
      expect(new Set(counted).size).toBe(counted.length);
      expect(counted.filter((id) => refused.has(requestOf(id)) || requestOf(id) >= nextRequest)).toEqual([]);
      process.stdout.write(`SIGTERM to exit under load:\n${stopTimes.join('\n')}\n`);
    });
  }, 600_000);
});
