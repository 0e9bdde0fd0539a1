/**
 * ConsumerLagMonitor on a real embedded log served over a port, as the stream threads reach it:
 * the lag per partition is end minus committed offset (beginning offset where the group has no
 * commit), and a refresh costs the log thread three messages whatever the partition count
 * (issue 21: one per partition kept the idle log thread busy and its heap growing).
 */
import { MessageChannel } from 'node:worker_threads';
import { Gauge, Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { LogServer } from '../../log/remote/LogServer.js';
import { RemoteLog } from '../../log/remote/RemoteLog.js';
import { ConsumerLagMonitor } from '../../topology/runtime/ConsumerLagMonitor.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

const TOPIC = 'lagging';
const GROUP = 'lag-monitor';

describe('ConsumerLagMonitor', () => {
  let dir: string;
  let log: EmbeddedLog;
  let server: LogServer;
  let remote: RemoteLog;
  const received: string[] = [];

  beforeEach(async () => {
    dir = tempDir('consumer-lag-monitor');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    server = new LogServer(log);
    const { port1, port2 } = new MessageChannel();
    received.length = 0;
    port2.on('message', (message: { op?: string }) => received.push(message.op ?? 'other'));
    server.serve(port2);
    remote = await RemoteLog.connect(port1);
  });

  afterEach(async () => {
    await remote.close();
    await server.close();
    await log.close();
    removeDir(dir);
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
});
