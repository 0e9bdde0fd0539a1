import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Test fixtures: TypeScript files run in a child process, named by their path from the repository root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript fixture (`node --import tsx`, path from the repository root) to its exit with
 * `env` added to this process's. By default stdin is a pipe the parent holds open for
 * the whole run (optionally after writing `stdinData`): the situation in which chDB would read
 * the host's stdin during an INSERT if anything let it.
 */
export function runFixture(fixture: string, env: Record<string, string>, options: { stdinData?: string; timeoutMs?: number; stdin?: 'pipe' | 'ignore' } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(ROOT, fixture)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: [options.stdin ?? 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin?.on('error', () => undefined); // EPIPE once the child is gone
    if (options.stdinData) child.stdin?.write(options.stdinData);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${fixture} did not finish in time; stdout: ${stdout}; stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      child.stdin?.destroy();
      // stdout may still hold the last chunk: wait for it to end.
      child.stdout!.on('close', () => resolve({ code, signal, stdout, stderr }));
      if (child.stdout!.closed) resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface RunningChild {
  child: ChildProcess;
  lines: string[];
  /** Resolves when `count` stdout lines have arrived (rejects if the child exits first). */
  waitForLines(count: number, timeoutMs?: number): Promise<void>;
  /** SIGKILLs the child and resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts a TypeScript fixture (`node --import tsx`, path from the repository root) with `args`,
 * collecting its stdout lines as they come, for a test that kills it at a point of its output.
 */
export function startFixture(fixture: string, args: string[]): RunningChild {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(ROOT, fixture), ...args], {
    cwd: ROOT,
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
