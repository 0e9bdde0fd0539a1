/**
 * The failing process's exit is certain (issue 21): app/ExitWatchdog.ts kills a process whose main
 * thread is blocked in native code (as process.exit is when it joins a worker thread stuck in
 * chDB's addon), and app/threads/WorkerSilence.ts notices a worker that stopped sending.
 */
import { spawn } from 'node:child_process';
import { WorkerSilence } from '../../app/threads/WorkerSilence.js';

/** A child that arms the watchdog, then blocks its only JS thread for good (Atomics.wait: no timer of its own can run). */
const BLOCKED_CHILD = `
  const { armExitWatchdog } = await import('./app/ExitWatchdog.ts');
  armExitWatchdog(Number(process.env.WATCHDOG_MS));
  console.log('armed');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
`;

/** A child that arms the watchdog and then exits at once on its own. */
const EXITING_CHILD = `
  const { armExitWatchdog } = await import('./app/ExitWatchdog.ts');
  armExitWatchdog(Number(process.env.WATCHDOG_MS));
  process.exit(3);
`;

function run(script: string, watchdogMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; armedAt?: number; exitedAt: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, WATCHDOG_MS: String(watchdogMs) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let armedAt: number | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('armed')) armedAt ??= Date.now();
  });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, ...(armedAt ? { armedAt } : {}), exitedAt: Date.now() })));
}

describe('the exit watchdog', () => {
  test('kills a process whose main thread is blocked in native code, once its time is up', async () => {
    const result = await run(BLOCKED_CHILD, 1_500);
    expect(result.signal).toBe('SIGKILL');
    expect(result.armedAt).toBeDefined();
    const killedAfter = result.exitedAt - result.armedAt!;
    expect(killedAfter).toBeGreaterThanOrEqual(1_300);
    expect(killedAfter).toBeLessThan(6_000);
  }, 60_000);

  test('leaves a process that exits on its own to its exit code', async () => {
    const result = await run(EXITING_CHILD, 1_500);
    expect(result).toMatchObject({ code: 3, signal: null });
  }, 60_000);
});

describe('a worker that falls silent', () => {
  test('is noticed once it has sent nothing for the limit, not while it sends', async () => {
    const limitMs = 1_500;
    let heartbeatStoppedAt = 0;
    const silent = new Promise<number>((resolve) => {
      const silence = new WorkerSilence(limitMs, () => resolve(Date.now()));
      const heartbeat = setInterval(() => silence.heard(), 200);
      // Sends for three limits' worth, then stops.
      setTimeout(() => {
        clearInterval(heartbeat);
        heartbeatStoppedAt = Date.now();
      }, 3 * limitMs);
    });
    const noticedAt = await silent;
    expect(heartbeatStoppedAt).toBeGreaterThan(0);
    expect(noticedAt - heartbeatStoppedAt).toBeGreaterThanOrEqual(limitMs - 250);
  }, 30_000);
});
