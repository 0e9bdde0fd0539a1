import type { Session } from 'chdb';
import { ClickHouseHttpError, fromEngineError } from './ClickHouseErrors.js';

export interface ReadResult {
  bytes: Uint8Array;
  elapsedSeconds: number;
  rowsRead: number;
  bytesRead: number;
}

/**
 * Runs the interface's reads on the process's one chDB engine, on a connection of their own.
 *
 * chDB allows one data directory per process, but several connections (Sessions) on it: they
 * share the engine (the reads see every row the sink committed) while each runs its queries one
 * at a time, off the event loop. Measured on chdb 3.4.0 / libchdb 26.7, two reasons the reads
 * must not share the sink's connection:
 * - a connection runs one query at a time: a 60 s read on the sink's connection would hold its
 *   inserts, its batch-log reads and GET /ready's ping for 60 s;
 * - when a query fails after its output format started writing (a timeout, a result limit, any
 *   runtime error; JSON writes its header and footer even for an error before the first row), the
 *   written bytes stay in the connection and are PREPENDED to the next query's result there. On
 *   the sink's connection that next query can be its batch-log read (the test that proves it
 *   failed the sink's JSON parse). On this connection, a drain (`SELECT 1`) runs after every failed
 *   read and takes whatever it left, before the next read; reads are queued so nothing can run
 *   in between.
 *
 * The connection also keeps its own current database (USE events_db), so unqualified names work
 * for readers without touching the sink's session.
 */
/** How long a read waits for the sink to open the store after a start before answering 503. */
const STORE_START_WAIT_MS = 15_000;

export class ChdbReader {
  private session: Session | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private closed = false;

  constructor(
    /** The data directory of the store's engine once it is open (undefined before: Kafka mode starts the sink late). */
    private readonly dataPath: () => string | undefined,
    private readonly database: string,
    /** Reads running or waiting; more are refused with Code 202. */
    private readonly maxPending: number,
  ) {}

  get waiting(): number {
    return this.pending;
  }

  /** The engine's version() and timezone(), once the connection is open. */
  async engineInfo(): Promise<{ version: string; timezone: string } | undefined> {
    const text = await this.read('SELECT version(), timezone()', 'TabSeparated').then(
      (result) => Buffer.from(result.bytes).toString('utf8').trim(),
      () => undefined,
    );
    if (!text) return undefined;
    const [version, timezone] = text.split('\t');
    return { version: version ?? 'unknown', timezone: timezone ?? 'UTC' };
  }

  read(sql: string, format: string): Promise<ReadResult> {
    if (this.closed) return Promise.reject(new ClickHouseHttpError(210, 'NETWORK_ERROR', 'the query interface is shutting down', 503));
    if (this.pending >= this.maxPending) {
      return Promise.reject(new ClickHouseHttpError(202, 'TOO_MANY_SIMULTANEOUS_QUERIES', `Too many simultaneous queries. Maximum: ${this.maxPending}`));
    }
    this.pending++;
    const run = this.tail.then(() => this.runOne(sql, format));
    this.tail = run.catch(() => undefined);
    return run.finally(() => this.pending--);
  }

  /** Closes the reads' connection after the queued reads; the sink's connection stays. */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    this.session?.close();
    this.session = undefined;
  }

  private async open(): Promise<Session> {
    if (this.session) return this.session;
    // Right after a start the sink may still be opening the store (its thread starts chDB and runs
    // migrations after the listeners open): a read then waits for it a little instead of failing.
    let dataPath = this.dataPath();
    for (const deadline = Date.now() + STORE_START_WAIT_MS; !dataPath && !this.closed && Date.now() < deadline; dataPath = this.dataPath()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!dataPath) {
      throw new ClickHouseHttpError(210, 'NETWORK_ERROR', 'the embedded analytics store is not started yet (GET /ready on the service says what it waits for)', 503);
    }
    // Loaded on the first read: importing chdb loads its native engine (~0.25 s of every start otherwise).
    const { Session: ChdbSession } = await import('chdb');
    const session = new ChdbSession(dataPath);
    try {
      await session.queryAsync(`USE ${this.database}`);
    } catch (error) {
      session.close();
      throw fromEngineError(error);
    }
    this.session = session;
    return session;
  }

  private async runOne(sql: string, format: string): Promise<ReadResult> {
    if (this.closed) throw new ClickHouseHttpError(210, 'NETWORK_ERROR', 'the query interface is shutting down', 503);
    const session = await this.open();
    try {
      const result = await session.queryAsync(sql, { format });
      return { bytes: result.bytes(), elapsedSeconds: result.elapsed, rowsRead: result.rowsRead, bytesRead: result.bytesRead };
    } catch (error) {
      await session.queryAsync('SELECT 1', { format: 'TabSeparated' }).catch(() => undefined);
      throw fromEngineError(error);
    }
  }
}
