import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export interface RunningChild {
  child: ChildProcess;
  lines: string[];
  /** Resolves when `count` stdout lines have arrived (rejects if the child exits first). */
  waitForLines(count: number, timeoutMs?: number): Promise<void>;
  /** SIGKILLs the child and resolves once it is gone. */
  kill(): Promise<void>;
}

/** Runs a TypeScript fixture in a child process (`node --import tsx`), collecting its stdout lines. */
export function runFixture(fixture: string, args: string[]): RunningChild {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/log/fixtures', fixture), ...args], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let exited: string | null = null;
  const listeners = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitedPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exited code=${code} signal=${signal} stderr=${stderr}`;
      for (const l of listeners) l();
      resolve();
    });
  });
  return {
    child,
    lines,
    waitForLines(count, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${count} lines, got ${lines.length}`)), timeoutMs);
        const check = () => {
          if (lines.length >= count) finish();
          else if (exited) finish(new Error(`child ${exited}`));
        };
        const finish = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async kill() {
      if (!exited) child.kill('SIGKILL');
      await exitedPromise;
    },
  };
}
