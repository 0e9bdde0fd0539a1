import { fork } from 'node:child_process';
import path from 'node:path';

/**
 * Runs a crash-test app (a TypeScript fixture, configured by `env`, that reports each commit and
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
