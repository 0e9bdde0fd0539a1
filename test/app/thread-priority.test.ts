/**
 * PIPELINE_THREAD_NICE (app/threads/ThreadPriority.ts): the stream threads (and the threads they
 * start: chDB's pools, with the sink) run at a lower CPU priority than the HTTP and log threads,
 * which a client's answer waits for. Checked in the kernel's own view of the service's threads
 * (/proc/<pid>/task/<tid>/stat), on a child process running the whole service, so no reniced
 * thread is left behind in the test runner.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHDB_POOL_RENICE_INTERVAL_MS, CHDB_POOL_THREAD_NAMES } from '../../app/threads/ChdbPoolPriority.js';
import { PipelineChild } from '../kafka-e2e/support/pipeline-child.js';
import { productEvents, sendEvents } from '../kafka-e2e/support/product-load.js';
import { tempDir } from '../support/temp-dir.js';

const linux = fs.existsSync('/proc/thread-self');
// The child inherits this process's nice value (CI may run under `nice`): the setting goes above it.
const base = os.getPriority();
const requested = Math.min(19, base + 5);

/**
 * Each thread's name and nice value (field 19 of /proc/<pid>/task/<tid>/stat), by thread id.
 * chDB's MemoryWorker sets its own (-20 where it may), so it is left out.
 */
function threadsOf(pid: number): Map<number, { name: string; nice: number }> {
  const threads = new Map<number, { name: string; nice: number }>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name === 'MemoryWorker') continue;
      threads.set(Number(tid), { name, nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

function niceByThread(pid: number): Map<number, number> {
  return new Map([...threadsOf(pid)].map(([tid, { nice }]) => [tid, nice]));
}

/** chDB's pool threads still at another nice value than `nice`, by name. */
function chdbPoolsNotAt(pid: number, nice: number): string[] {
  return [...threadsOf(pid).values()].filter((t) => CHDB_POOL_THREAD_NAMES.has(t.name) && t.nice !== nice).map((t) => t.name);
}

/**
 * Polls until chDB's pools are all at `nice`: a pool may start a thread between two passes of the
 * renice (there is no event to await for a thread's priority). Returns the ones left.
 */
async function chdbPoolsReachNice(pid: number, nice: number): Promise<string[]> {
  const deadline = Date.now() + 5 * CHDB_POOL_RENICE_INTERVAL_MS;
  let left = chdbPoolsNotAt(pid, nice);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = chdbPoolsNotAt(pid, nice);
  }
  return left;
}

(linux && requested > base ? describe : describe.skip)('PIPELINE_THREAD_NICE', () => {
  const root = tempDir('thread-priority');
  const children: PipelineChild[] = [];

  afterAll(async () => {
    for (const child of children) if (child.process.exitCode === null) await child.kill();
    fs.rmSync(root, { recursive: true, force: true });
  }, 60_000);

  async function serviceWith(env: Record<string, string>, name: string): Promise<PipelineChild> {
    const child = await PipelineChild.start({ DATA_DIR: path.join(root, name), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', CLICKHOUSE_HTTP_PORT: 'off', ...env });
    children.push(child);
    await child.started();
    return child;
  }

  test('reniced: the pipeline threads and what they started, not the HTTP thread; events still flow', async () => {
    const child = await serviceWith({ PIPELINE_THREAD_NICE: String(requested) }, 'niced');
    const pid = child.process.pid!;
    await sendEvents(child.address, productEvents(50, 'nice'));
    await child.whenCommitted(1);
    const nice = niceByThread(pid);
    expect(nice.get(pid)).toBe(base);
    const reniced = [...nice.values()].filter((value) => value === requested);
    // stream-1 (with the sink) and chDB's pools, which it starts.
    expect(reniced.length).toBeGreaterThan(1);
    expect([...nice.values()].every((value) => value === base || value === requested)).toBe(true);
    // The HTTP thread, the log thread, V8's and libuv's helpers keep the process's.
    expect([...nice.values()].filter((value) => value === base).length).toBeGreaterThan(2);
    // chDB's pools follow, those the HTTP thread created when it loaded the addon included.
    const pools = [...threadsOf(pid).values()].filter((t) => CHDB_POOL_THREAD_NAMES.has(t.name));
    expect([...new Set(pools.map((t) => t.name))]).toEqual(expect.arrayContaining(['MergeMutate', 'ThreadPool', 'BgSchPool', 'BgStrmSchPool']));
    expect(await chdbPoolsReachNice(pid, requested)).toEqual([]);
    await child.stop();
  }, 180_000);

  test('unset: every thread keeps the process\'s priority', async () => {
    const child = await serviceWith({}, 'default');
    expect([...niceByThread(child.process.pid!).values()].every((value) => value === base)).toBe(true);
    await child.stop();
  }, 180_000);
});
