import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process's stdout lines as they come, and a wait for the first line that matches. */
export interface ChildLines {
  readonly lines: string[];
  /**
   * Resolves with the index of the first line at or after `from` that matches; rejects (with the
   * child's stderr) if the child exits before one comes, or (with its last lines) after timeoutMs.
   */
  waitFor(match: RegExp, from?: number, timeoutMs?: number): Promise<number>;
}

export function childLines(child: ChildProcess): ChildLines {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  const waitFor = (match: RegExp, from = 0, timeoutMs = Infinity) =>
    new Promise<number>((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => reject(new Error(`no line matching ${match} within ${timeoutMs} ms; the child's last lines: ${lines.slice(-10).join(' | ')}; stderr: ${stderr.slice(-2000)}`)), timeoutMs)
        : undefined;
      const check = () => {
        const at = lines.findIndex((line, i) => i >= from && match.test(line));
        if (at >= 0) {
          clearTimeout(timer);
          resolve(at);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`child exited: ${stderr}`));
        } else waiters.push(check);
      };
      child.once('exit', check);
      check();
    });
  return { lines, waitFor };
}
