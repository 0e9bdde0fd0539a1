import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { registerThreadHeapGauges, threadCpuSeconds } from '../../log/remote/ThreadHeapGauges.js';

/** A worker that spins until the process (all threads) has used `ms` more CPU, then answers. */
function burnInWorker(ms: number): Promise<void> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const start = process.cpuUsage();
     for (;;) { const d = process.cpuUsage(start); if ((d.user + d.system) / 1000 >= ${ms}) break; }
     parentPort.postMessage('done');`,
    { eval: true },
  );
  return new Promise((resolve, reject) => {
    worker.once('message', () => void worker.terminate().then(() => resolve()));
    worker.once('error', reject);
  });
}

const linux = process.platform === 'linux';

(linux ? describe : describe.skip)('per-thread CPU (streamline_thread_cpu_seconds_total)', () => {
  it("counts the calling thread's CPU, not the process's", async () => {
    const threadBefore = threadCpuSeconds()!;
    const processBefore = process.cpuUsage();
    await burnInWorker(400);
    const processSeconds = (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(processBefore));
    const threadSeconds = threadCpuSeconds()! - threadBefore;
    expect(processSeconds).toBeGreaterThanOrEqual(0.4);
    // The main thread only waited for the worker's answer: far less than the worker burnt.
    expect(threadSeconds).toBeLessThan(processSeconds - 0.25);
  });

  it('grows with the thread\'s own work and is published under its thread label', async () => {
    const registry = new Registry();
    registerThreadHeapGauges(registry, 'stream-7');
    const read = async () => {
      const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'streamline_thread_cpu_seconds_total')!;
      expect(metric.type).toBe('counter');
      expect(metric.values).toHaveLength(1);
      expect(metric.values[0]!.labels).toEqual({ thread: 'stream-7' });
      return metric.values[0]!.value;
    };
    const before = await read();
    const start = threadCpuSeconds()!;
    while (threadCpuSeconds()! - start < 0.2) Math.sqrt(Math.random());
    const after = await read();
    expect(after - before).toBeGreaterThanOrEqual(0.2);
    expect(after - before).toBeLessThan(5);
  });
});
