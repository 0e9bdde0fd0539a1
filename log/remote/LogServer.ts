import type { MessagePort } from 'node:worker_threads';
import type { Log } from '../Log.js';
import { LogSession } from './LogSession.js';

/**
 * Serves one `Log` to other threads: each client (a RemoteLog) gets its own MessagePort, given
 * to serve(). The server runs in the thread that owns the log (for the embedded log, the only
 * thread that may open its RocksDB database) and never closes the log itself: its owner does,
 * after close() here. See log/remote/README.md.
 */
export class LogServer {
  private readonly sessions = new Set<LogSession>();
  private closed = false;

  constructor(private readonly log: Log) {}

  /** Answers the RemoteLog at the other end of this port until it closes or the server does. */
  serve(port: MessagePort): void {
    if (this.closed) {
      port.close();
      throw new Error('log server is closed');
    }
    this.sessions.add(new LogSession(this.log, port, (session) => this.sessions.delete(session)));
  }

  get clients(): number {
    return this.sessions.size;
  }

  /**
   * Ends every session: clients' consumers leave their groups, their producers close, open
   * transactions abort, and the ports close, so their RemoteLogs fail further calls with
   * LogServerGoneError. The log stays open.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions].map((session) => session.end()));
  }
}
