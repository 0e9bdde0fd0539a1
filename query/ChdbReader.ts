import type { Session } from 'chdb';
import { ClickHouseHttpError, fromEngineError } from './ClickHouseErrors.js';

export interface ReadResult {
  bytes: Uint8Array;
  elapsedSeconds: number;
  rowsRead: number;
  bytesRead: number;
}

/**
 * Runs reads on the process's one chDB engine (the session the sink writes through; chDB opens
 * one engine per process), off the event loop.
 *
 * The chDB trap this class exists for (measured on chdb 3.4.0 / libchdb 26.7): when a query fails
 * after its output format started writing (a timeout, a result limit, any runtime error; JSON
 * writes its header and footer even for an error before the first row), the written bytes stay
 * in the connection and are PREPENDED to the result of the next query on it. The next query could
 * be the sink's (its batch log read, the seed 004 query). So every read is followed by a drain,
 * `SELECT 1`, queued right behind it: both go through chDB's process-wide chain of bound queries
 * (queryBindAsync, which runs them one at a time in call order), so the drain is the next query
 * on the connection among bound queries and takes whatever the read left behind. The sink's
 * bound queries (batch log, columns, seed 004) are bound too, so they queue behind the drain.
 * Unbound queries (the sink's inserts, GET /ready's ping) run beside the chain; an insert that
 * takes the leftovers ignores them, a ping reads "not ready" once (docs/ANALYTICS.md).
 *
 * Reads are therefore one at a time with the sink's bound queries; the limits (max_execution_time)
 * bound how long one can hold the chain.
 */
export class ChdbReader {
  private inFlight = 0;

  constructor(
    /** The engine's session once the store is open (undefined before: Kafka mode starts the sink late). */
    private readonly session: () => Promise<Session | undefined>,
    private readonly maxConcurrent: number,
  ) {}

  get running(): number {
    return this.inFlight;
  }

  async read(sql: string, format: string): Promise<ReadResult> {
    if (this.inFlight >= this.maxConcurrent) {
      throw new ClickHouseHttpError(202, 'TOO_MANY_SIMULTANEOUS_QUERIES', `Too many simultaneous queries. Maximum: ${this.maxConcurrent}`);
    }
    const session = await this.session();
    if (!session) {
      throw new ClickHouseHttpError(210, 'NETWORK_ERROR', 'the embedded analytics store is not started yet (GET /ready on the service says what it waits for)', 503);
    }
    if (this.inFlight >= this.maxConcurrent) {
      throw new ClickHouseHttpError(202, 'TOO_MANY_SIMULTANEOUS_QUERIES', `Too many simultaneous queries. Maximum: ${this.maxConcurrent}`);
    }
    this.inFlight++;
    try {
      const read = session.queryBindAsync(sql, {}, { format });
      // Queued in the same turn, so nothing bound can start between the read and its drain.
      const drain = session.queryBindAsync('SELECT 1', {}, { format: 'TabSeparated' });
      drain.catch(() => undefined);
      try {
        const result = await read;
        return { bytes: result.bytes(), elapsedSeconds: result.elapsed, rowsRead: result.rowsRead, bytesRead: result.bytesRead };
      } catch (error) {
        throw fromEngineError(error);
      } finally {
        await drain.catch(() => undefined);
      }
    } finally {
      this.inFlight--;
    }
  }
}
