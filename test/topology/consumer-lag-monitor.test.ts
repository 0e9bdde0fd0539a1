/**
 * ConsumerLagMonitor on a real embedded log served over a port, as the stream threads reach it:
 * the lag per partition is end minus committed offset (beginning offset where the group has no
 * commit), and a refresh costs the log thread three messages whatever the partition count
 * (issue 21: one per partition kept the idle log thread busy and its heap growing).
 */
import { Gauge, Registry } from 'prom-client';
import type { EmbeddedLog } from '../../log/embedded/index.js';
import type { RemoteLog } from '../../log/remote/RemoteLog.js';
import { ConsumerLagMonitor } from '../../topology/runtime/ConsumerLagMonitor.js';
import { servedInThread, type ServedLog } from '../support/served-log.js';

const TOPIC = 'lagging';
const GROUP = 'lag-monitor';

describe('ConsumerLagMonitor', () => {
  let served: ServedLog;
  let log: EmbeddedLog;
  let remote: RemoteLog;
  const received: string[] = [];

  beforeEach(async () => {
    served = await servedInThread('consumer-lag-monitor');
    log = served.log;
    received.length = 0;
    remote = await served.connect(received);
  });

  afterEach(async () => {
    await served.cleanup();
  });

  it('sets end minus committed (or beginning) offset per partition in three messages', async () => {
    await log.ensureTopic(TOPIC, { partitions: 3 });
    await log.produce([0, 0, 0, 1, 1].map((partition) => ({ topic: TOPIC, key: null, value: Buffer.from('x'), partition })));
    const consumer = log.createConsumer({ groupId: GROUP });
    await consumer.subscribe([TOPIC], { onAssigned: async () => undefined, onRevoked: async () => undefined });
    await consumer.commitOffsets([{ topic: TOPIC, partition: 0, offset: 1 }]);
    await consumer.close();

    const registry = new Registry();
    const lag = new Gauge({ name: 'lag', help: 'lag', labelNames: ['topic', 'partition'], registers: [registry] });
    const monitor = new ConsumerLagMonitor(remote, GROUP, lag, undefined);
    received.length = 0;
    monitor.refresh(Date.now(), [0, 1, 2].map((partition) => ({ topic: TOPIC, partition })));
    await monitor.idle();

    const values = (await lag.get()).values.map((v) => [v.labels.partition, v.value]);
    expect(values).toEqual([['0', 2], ['1', 2], ['2', 0]]);
    expect(received).toEqual(['committedOffsets', 'endOffsets', 'beginningOffsets']);
  });

  it('reads every second, or every 5 s while the thread is quiet and the last read found no lag', async () => {
    await log.ensureTopic(TOPIC, { partitions: 1 });
    const registry = new Registry();
    const lag = new Gauge({ name: 'lag', help: 'lag', labelNames: ['topic', 'partition'], registers: [registry] });
    const monitor = new ConsumerLagMonitor(remote, GROUP, lag, undefined);
    const assigned = [{ topic: TOPIC, partition: 0 }];
    const at = Date.now();
    monitor.refresh(at, assigned, true);
    expect(monitor.isDue(at, true)).toBe(false); // in flight
    await monitor.idle();
    expect((await lag.get()).values.map((v) => v.value)).toEqual([0]);
    expect(monitor.isDue(at + 1_000, false)).toBe(true);
    expect(monitor.isDue(at + 1_000, true)).toBe(false);
    expect(monitor.dueAt(true)).toBe(at + 5_000);

    // With a lag, quiet or not, it is read every second.
    await log.produce([{ topic: TOPIC, key: null, value: Buffer.from('x'), partition: 0 }]);
    monitor.refresh(at + 5_000, assigned, true);
    await monitor.idle();
    expect((await lag.get()).values.map((v) => v.value)).toEqual([1]);
    expect(monitor.dueAt(true)).toBe(at + 6_000);
  });

  it('drops the partitions no longer assigned, so the threads\' summed gauges hold no stale lag', async () => {
    await log.ensureTopic(TOPIC, { partitions: 3 });
    await log.produce([0, 1, 2].map((partition) => ({ topic: TOPIC, key: null, value: Buffer.from('x'), partition })));
    const registry = new Registry();
    const lag = new Gauge({ name: 'lag', help: 'lag', labelNames: ['topic', 'partition'], registers: [registry] });
    const monitor = new ConsumerLagMonitor(remote, GROUP, lag, undefined);
    const at = Date.now();
    monitor.refresh(at, [0, 1, 2].map((partition) => ({ topic: TOPIC, partition })));
    await monitor.idle();
    expect((await lag.get()).values.map((v) => v.labels.partition)).toEqual(['0', '1', '2']);

    // A rebalance moved partitions 1 and 2 to another stream thread.
    monitor.refresh(at + 1_000, [{ topic: TOPIC, partition: 0 }]);
    await monitor.idle();
    expect((await lag.get()).values.map((v) => [v.labels.partition, v.value])).toEqual([['0', 1]]);

    // And then the last one: nothing of this thread's is left in the sum.
    monitor.refresh(at + 2_000, []);
    await monitor.idle();
    expect((await lag.get()).values).toEqual([]);
  });
});
