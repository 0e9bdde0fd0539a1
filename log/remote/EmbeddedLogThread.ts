import { once } from 'node:events';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { EmbeddedLogOptions } from '../embedded/index.js';
import type { LogDatabaseMemory } from '../embedded/LogDatabase.js';
import type { LogThreadCommand, LogThreadEvent } from './embeddedLogThreadMain.js';
import { RemoteLog } from './RemoteLog.js';
import { YOUNG_GENERATION_MB } from '../../config/index.js';
import { startModuleWorker } from './StartModuleWorker.js';

/** Options of the embedded log opened in the thread (registry and logger cannot cross threads). */
export type LogThreadOptions = Omit<EmbeddedLogOptions, 'registry' | 'logger'> & {
  /**
   * The log's memory share (setLogDatabaseMemory). Module state is per thread: a share set in the
   * starting thread does not reach the log thread, so it travels here.
   */
  memory?: LogDatabaseMemory;
  /** pino level of the thread's own logger (the log reports failed group commits). Default info. */
  logLevel?: string;
};

/**
 * An embedded log owned by a dedicated worker thread, the only one that opens its RocksDB
 * database; any thread reaches it through connect(), which returns a RemoteLog on a new port.
 * Hand a port to another worker with port() (transfer it), and RemoteLog.connect it there.
 */
export class EmbeddedLogThread {
  private exitReason: string | null = null;
  private readonly clients = new Set<RemoteLog>();

  private failure: Error | null = null;

  private constructor(readonly worker: Worker) {
    // Without a listener, a worker's uncaught exception would be rethrown in this thread.
    worker.on('error', (error) => {
      this.failure = error;
    });
    worker.on('exit', (code) => {
      this.exitReason = this.failure
        ? `the log thread failed: ${this.failure.message}`
        : `the log thread exited with code ${code}`;
      for (const client of this.clients) client.serverGone(this.exitReason);
    });
  }

  /** Why the thread is gone, or null while it runs (for the owner's logs and /ready). */
  get stopped(): string | null {
    return this.exitReason;
  }

  static async start(options: LogThreadOptions): Promise<EmbeddedLogThread> {
    const worker = startModuleWorker(new URL('./embeddedLogThreadMain.js', import.meta.url), { workerData: options, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB.log } });
    const thread = new EmbeddedLogThread(worker);
    const [event] = (await Promise.race([once(worker, 'message'), once(worker, 'exit').then(([code]) => [{ type: 'failed', message: `exited with code ${code}` }])])) as [
      LogThreadEvent,
    ];
    if (event.type !== 'ready') {
      await worker.terminate();
      throw new Error(`the embedded log thread did not start: ${event.type === 'failed' ? event.message : event.type}`);
    }
    return thread;
  }

  /** The log's metrics (streamline_log_*), registered in the log thread. */
  async metrics(): Promise<Array<MetricObjectWithValues<MetricValue<string>>>> {
    if (this.exitReason) return [];
    const id = this.nextMetricsId++;
    const answer = new Promise<Array<MetricObjectWithValues<MetricValue<string>>>>((resolve) => {
      const onMessage = (event: LogThreadEvent) => {
        if (event.type !== 'metrics' || event.id !== id) return;
        this.worker.off('message', onMessage);
        resolve(event.metrics);
      };
      this.worker.on('message', onMessage);
    });
    this.worker.postMessage({ type: 'metrics', id } satisfies LogThreadCommand);
    return answer;
  }

  private nextMetricsId = 1;

  /** A new port served by the log thread; transfer it to the thread that will use it. */
  port(): MessagePort {
    if (this.exitReason) throw new Error(`cannot connect: ${this.exitReason}`);
    const { port1, port2 } = new MessageChannel();
    this.worker.postMessage({ type: 'serve', port: port2 } satisfies LogThreadCommand, [port2]);
    return port1;
  }

  /** A RemoteLog in this thread. */
  async connect(options: Parameters<typeof RemoteLog.connect>[1] = {}): Promise<RemoteLog> {
    const log = await RemoteLog.connect(this.port(), options);
    this.clients.add(log);
    return log;
  }

  /** Ends every session, closes the log and waits for the thread to exit. */
  async stop(): Promise<void> {
    if (this.exitReason) return;
    const exited = once(this.worker, 'exit');
    this.worker.postMessage({ type: 'stop' } satisfies LogThreadCommand);
    await exited;
  }
}
