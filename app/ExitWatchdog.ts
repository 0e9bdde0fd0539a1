import { spawn } from 'node:child_process';

/**
 * Makes a failing process's exit certain: a small separate process that SIGKILLs this one if it is
 * still running `afterMs` from now. Not a timer in this process: when a worker thread dies inside
 * chDB's addon, this thread can block in native code (process.exit joins every worker thread
 * first), where no timer of its own runs. Exactly-once holds across the kill as across any crash:
 * every commit is atomic, and a restart recovers from the last one. The watchdog leaves on its own
 * once this process is gone (its parent changed), so it never signals a reused pid.
 */
export function armExitWatchdog(afterMs: number): void {
  const script = [
    'const [pid, afterMs] = process.argv.slice(1).map(Number);',
    'const started = Date.now();',
    'const timer = setInterval(() => {',
    '  if (process.ppid !== pid) process.exit(0);',
    '  if (Date.now() - started < afterMs) return;',
    "  try { process.kill(pid, 'SIGKILL'); } catch {}",
    '  process.exit(0);',
    '}, 100);',
  ].join('\n');
  const env = { ...process.env };
  // The service's own NODE_OPTIONS (e.g. tsx's loader, a heap size) are not this script's.
  delete env.NODE_OPTIONS;
  const watchdog = spawn(process.execPath, ['-e', script, String(process.pid), String(afterMs)], { detached: true, stdio: 'ignore', env });
  watchdog.unref();
}
