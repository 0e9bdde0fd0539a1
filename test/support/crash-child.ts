import { fork } from 'node:child_process';
import path from 'node:path';

/**
 * Runs a crash-test app (a TypeScript fixture calling runCrashApp of crash-app.ts, configured by `env`, that reports each commit and
 * its end over IPC) in a child process. With killAfterCommits > 0 the child is
 * SIGKILLed right after that commit; with killAfterRecords > 0, after the commit that brings the
 * input records it processed to that many (commit messages carry `records`: a point in the work,
 * not in time, so a faster machine does not finish before the kill). Resolves true when it finished, false when it was killed;
 * rejects on any other exit.
 */
export function runCrashChild(app: string, env: Record<string, string>, killAfterCommits = 0, killAfterRecords = 0): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = fork(app, [], { env: { ...process.env, ...env }, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let commits = 0;
    let records = 0;
    let done = false;
    child.on('message', (message: { type: string; records?: number }) => {
      if (message.type === 'done') done = true;
      if (message.type !== 'commit') return;
      commits++;
      records += message.records ?? 0;
      if ((killAfterCommits > 0 && commits === killAfterCommits) || (killAfterRecords > 0 && records >= killAfterRecords && records - (message.records ?? 0) < killAfterRecords)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(false);
      else if (code === 0 && done) resolve(true);
      else reject(new Error(`${path.basename(app)} exited with code ${code} signal ${signal}${done ? '' : ' before finishing'}`));
    });
  });
}

/**
 * The shape of the crash-recovery tests: the same input written into two directories under
 * `root`; one run uninterrupted, the other SIGKILLed at `killAt[0]` and then `killAt[1]` (default
 * 4 and 10, in runChild's unit: commits or records written) and finished by a third run. Returns
 * what `collect` reads from each, for the caller to compare.
 */
export async function uninterruptedAndKilledTwice<T>(
  root: string,
  steps: {
    writeInput: (dir: string) => Promise<unknown>;
    /** killAt: the point of the work to be killed at (in the caller's unit: commits or records); none: run to the end. */
    runChild: (dir: string, killAt?: number) => Promise<boolean>;
    collect: (dir: string) => Promise<T>;
    /** The two kill points, in runChild's unit. Default [4, 10]. */
    killAt?: [number, number];
  },
): Promise<{ expected: T; actual: T }> {
  const uninterrupted = `${root}/uninterrupted`;
  const crashed = `${root}/crashed`;
  const [firstKill, secondKill] = steps.killAt ?? [4, 10];
  await steps.writeInput(uninterrupted);
  await steps.writeInput(crashed);

  expect(await steps.runChild(uninterrupted)).toBe(true);
  expect(await steps.runChild(crashed, firstKill)).toBe(false);
  expect(await steps.runChild(crashed, secondKill)).toBe(false);
  expect(await steps.runChild(crashed)).toBe(true);

  return { expected: await steps.collect(uninterrupted), actual: await steps.collect(crashed) };
}
