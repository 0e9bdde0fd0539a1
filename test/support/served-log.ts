import { MessageChannel } from 'node:worker_threads';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { LogServer } from '../../log/remote/LogServer.js';
import { RemoteLog } from '../../log/remote/RemoteLog.js';
import { removeDir, tempDir } from './temp-dir.js';

export interface ServedLog {
  log: EmbeddedLog;
  server: LogServer;
  /** A RemoteLog over a new MessageChannel; `ops`, when given, receives the operation of every message the server gets from it. */
  connect(ops?: string[]): Promise<RemoteLog>;
  cleanup(): Promise<void>;
}

/** An EmbeddedLog in this thread served to RemoteLogs over MessageChannels, as the log thread serves the others. */
export async function servedInThread(prefix: string): Promise<ServedLog> {
  const dir = tempDir(prefix);
  const log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
  const server = new LogServer(log);
  const clients: RemoteLog[] = [];
  return {
    log,
    server,
    async connect(ops) {
      const { port1, port2 } = new MessageChannel();
      if (ops) port2.on('message', (message: { op?: string }) => ops.push(message.op ?? 'other'));
      server.serve(port2);
      const remote = await RemoteLog.connect(port1);
      clients.push(remote);
      return remote;
    },
    async cleanup() {
      for (const client of clients) await client.close();
      await server.close();
      await log.close();
      removeDir(dir);
    },
  };
}
