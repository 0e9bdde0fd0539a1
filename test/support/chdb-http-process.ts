import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ChdbHttpProcess {
  /** http://127.0.0.1:<port>: give it to ClickHouseServerStore / CLICKHOUSE_URL. */
  url: string;
  child: ChildProcess;
  /** SIGTERM and wait for the exit (chDB flushes and closes its data directory). */
  stop(): Promise<void>;
}

/**
 * Starts test/support/chdb-http-server.ts as its own process on a free port over the chDB data
 * directory `dataDir`, and resolves once it answers. stdin is /dev/null (chDB would read a pipe
 * during INSERT ... FORMAT).
 */
export function startChdbHttpProcess(dataDir: string, options: { timeoutMs?: number } = {}): Promise<ChdbHttpProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'chdb-http-server.ts')], {
      cwd: path.resolve(here, '../..'),
      env: { ...process.env, CHDB_HTTP_PATH: dataDir, CHDB_HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the chDB HTTP server did not start in time; stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening (http:\/\/\S+)\n/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: match[1]!,
        child,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the chDB HTTP server exited (${code ?? signal}) before listening; stderr: ${stderr}`));
    });
  });
}
