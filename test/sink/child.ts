import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a fixture with `node --import tsx`. By default stdin is a pipe the parent holds open for
 * the whole run (optionally after writing `stdinData`): the situation in which chDB would read
 * the host's stdin during an INSERT if anything let it.
 */
export function runFixture(fixture: string, env: Record<string, string>, options: { stdinData?: string; timeoutMs?: number; stdin?: 'pipe' | 'ignore' } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', fixture)], {
      cwd: path.resolve(here, '../..'),
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
