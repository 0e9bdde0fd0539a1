import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { LandingChildMessage, LandingParentMessage } from './fixtures/landing-pipeline-process.js';

const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'landing-pipeline-process.ts');

/** The whole app in a child process: its HTTP address, SQL counts on its chDB, stop or SIGKILL. */
export class LandingChild {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private nextId = 0;

  private constructor(
    readonly process: ChildProcess,
    readonly address: string,
    readonly started: Promise<void>,
  ) {
    this.exited = new Promise((resolve) => process.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(env: Record<string, string>): Promise<LandingChild> {
    const clean = { ...process.env };
    delete clean.KAFKA_BOOTSTRAP_SERVERS;
    delete clean.KAFKA_BROKERS;
    const child = fork(CHILD, [], { env: { ...clean, ...env }, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const started = new Promise<void>((resolve, reject) => {
      child.on('message', (message: LandingChildMessage) => {
        if (message.type === 'started') resolve();
      });
      child.once('exit', (code, signal) => reject(new Error(`pipeline child exited (code ${code}, signal ${signal}) before its start sequence finished`)));
    });
    started.catch(() => undefined);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) => reject(new Error(`pipeline child exited (code ${code}, signal ${signal}) before it was ready`));
      child.once('exit', onExit);
      child.on('message', (message: LandingChildMessage) => {
        if (message.type !== 'ready') return;
        child.off('exit', onExit);
        resolve(new LandingChild(child, message.address, started));
      });
    });
  }

  count(sql: string): Promise<number> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to "${sql}" within 30 s`)), 30_000);
      const onMessage = (message: LandingChildMessage) => {
        if (message.type !== 'count' || message.id !== id) return;
        clearTimeout(timer);
        this.process.off('message', onMessage);
        if (message.error) reject(new Error(message.error));
        else resolve(message.n);
      };
      this.process.on('message', onMessage);
      this.process.send({ type: 'count', id, sql } satisfies LandingParentMessage);
    });
  }

  /** Polls until every query's count equals its expected value (or the deadline); returns the last counts. */
  async waitForCounts(expected: Record<string, number>, timeoutMs = 120_000): Promise<Record<string, number>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts: Record<string, number> = {};
      for (const sql of Object.keys(expected)) counts[sql] = await this.count(sql);
      if (Object.entries(expected).every(([sql, n]) => counts[sql] === n) || Date.now() > deadline) return counts;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.send({ type: 'stop' } satisfies LandingParentMessage);
    await this.exited;
  }

  kill(): Promise<unknown> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.resolve();
    this.process.kill('SIGKILL');
    return this.exited;
  }
}
