/**
 * Entry of a dedicated log thread (started by startEmbeddedLogThread): opens the embedded log,
 * the only thread to do so, and serves it on every port the parent sends. The parent stops it
 * with { type: 'stop' }: sessions end, the log closes, the thread exits.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { pino } from 'pino';
import { Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { openEmbeddedLog } from '../embedded/index.js';
import { setLogDatabaseMemory } from '../embedded/LogDatabase.js';
import type { LogThreadOptions } from './EmbeddedLogThread.js';
import { LogServer } from './LogServer.js';
import { registerThreadHeapGauges } from './ThreadHeapGauges.js';

export type LogThreadCommand = { type: 'serve'; port: MessagePort } | { type: 'metrics'; id: number } | { type: 'stop' };
export type LogThreadEvent =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string }
  /** The log's streamline_log_* metrics, from this thread's registry, for the process's /metrics. */
  | { type: 'metrics'; id: number; metrics: Array<MetricObjectWithValues<MetricValue<string>>> };

const control = parentPort!;
const { memory, logLevel, ...options } = workerData as LogThreadOptions;
const registry = new Registry();
registerThreadHeapGauges(registry, 'log');

try {
  if (memory) setLogDatabaseMemory(memory);
  const logger = pino({ level: logLevel ?? 'info' }).child({ thread: 'log', component: 'log' });
  const log = await openEmbeddedLog({ ...options, registry, logger });
  const server = new LogServer(log);
  control.on('message', (command: LogThreadCommand) => {
    if (command.type === 'serve') {
      server.serve(command.port);
      return;
    }
    if (command.type === 'metrics') {
      void registry.getMetricsAsJSON().then((metrics) => control.postMessage({ type: 'metrics', id: command.id, metrics } satisfies LogThreadEvent));
      return;
    }
    void (async () => {
      await server.close();
      await log.close();
      control.postMessage({ type: 'stopped' } satisfies LogThreadEvent);
      control.close();
    })();
  });
  control.postMessage({ type: 'ready' } satisfies LogThreadEvent);
} catch (error) {
  control.postMessage({ type: 'failed', message: (error as Error).message } satisfies LogThreadEvent);
}
