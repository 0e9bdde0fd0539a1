/**
 * A stream thread in miniature, for test/log/remote-log.test.ts: in a worker thread, reaches the
 * log through the RemoteLog on the port it was given, consumes `input`, and writes one output per
 * input record with the consumer's offsets in one transaction. Reports what it saw to its parent,
 * and each step as it reaches it (so a test that waits too long can say where the worker stopped).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { TopicPartition } from '../../../log/Log.js';
import { RemoteLog } from '../../../log/remote/RemoteLog.js';

const { port, input, output, groupId, expected } = workerData as { port: MessagePort; input: string; output: string; groupId: string; expected: number };

const step = (name: string) => parentPort!.postMessage({ type: 'step', step: name });
step('connecting');
const log = await RemoteLog.connect(port);
step('connected');
const assigned: TopicPartition[] = [];
const consumer = log.createConsumer({ groupId });
await consumer.subscribe([input], {
  async onAssigned(tps) {
    assigned.push(...tps);
  },
  async onRevoked() {},
});
step('subscribed');
const values: string[] = [];
const deadline = Date.now() + 20_000;
while (values.length < expected && Date.now() < deadline) {
  for (const r of await consumer.poll(100, 500)) values.push(r.value!.toString());
  step(`polled ${values.length} of ${expected} (assigned ${assigned.length})`);
}
const producer = await log.createTransactionalProducer(`${groupId}-tx`);
const transaction = await producer.begin();
transaction.produce(values.map((v) => ({ topic: output, key: null, value: Buffer.from(`done-${v}`) })));
transaction.sendOffsets(
  consumer,
  assigned.map((tp) => ({ ...tp, offset: consumer.position(tp)! })),
);
step('committing');
const metadata = await transaction.commit();
step('committed');
await producer.close();
await consumer.close();
await log.close();
step('closed');
parentPort!.postMessage({ type: 'report', kind: log.kind, assigned, values, written: metadata.length });
