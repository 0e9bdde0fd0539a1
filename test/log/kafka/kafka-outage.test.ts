import { openKafkaLog, type KafkaLog } from '../../../log/kafka/KafkaLog.js';
import { noopListener, pollUntil, readAll, uniqueName } from '../log-contract.js';
import { startKafkaBroker, type KafkaBroker } from '../../support/kafka-broker.js';

/**
 * Broker outage: this suite stops and restarts a broker of its own (never the shared one the
 * other suites use), so it needs Java even when KAFKA_BROKERS points elsewhere.
 */
describe('KafkaLog when the broker goes away and comes back', () => {
  let broker: KafkaBroker;
  let log: KafkaLog;

  beforeAll(async () => {
    broker = await startKafkaBroker();
    log = await openKafkaLog({
      brokers: [broker.brokers],
      clientId: uniqueName('outage'),
      produceTimeoutMs: 5_000,
      requestTimeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      retries: 2,
      retryBackoffMs: 200,
      healthTimeoutMs: 500,
    });
  }, 120_000);

  afterAll(async () => {
    await log?.close();
    await broker?.destroy();
  }, 60_000);

  it('reports unhealthy and fails produce in bounded time while stopped, then recovers with its data', async () => {
    const topic = uniqueName('outage');
    await log.ensureTopic(topic, { partitions: 1 });
    await log.produce([{ topic, key: Buffer.from('k'), value: Buffer.from('before') }]);
    expect(await log.isHealthy()).toBe(true);
    const consumer = log.createConsumer({ groupId: uniqueName('outage-g') });
    await consumer.subscribe([topic], noopListener);
    expect((await pollUntil(consumer, (rs) => rs.length >= 1)).map((r) => r.value!.toString())).toEqual(['before']);

    await broker.stop();
    let started = Date.now();
    expect(await log.isHealthy()).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);

    // Polling while the broker is down returns nothing (bounded by the poll timeout), no error.
    started = Date.now();
    expect(await consumer.poll(10, 1_000)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);

    started = Date.now();
    await expect(log.produce([{ topic, key: Buffer.from('k'), value: Buffer.from('during-outage') }])).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(6_500);

    await broker.start();
    const deadline = Date.now() + 30_000;
    while (!(await log.isHealthy()) && Date.now() < deadline);
    expect(await log.isHealthy()).toBe(true);

    // Produce works again (the client reconnects by itself), and what was acked before survived.
    const [after] = await log.produce([{ topic, key: Buffer.from('k'), value: Buffer.from('after') }]);
    expect(after!.partition).toBe(0);
    const values = (await readAll(log, { topic, partition: 0 })).map((r) => r.value!.toString());
    expect(values[0]).toBe('before');
    expect(values[values.length - 1]).toBe('after');
    // The failed produce was never acked; it may or may not have landed, but at most once.
    expect(values.filter((v) => v === 'during-outage').length).toBeLessThanOrEqual(1);

    // A consumer that was polling through the outage carries on: it does not throw, and it
    // reads what was written after the restart.
    const resumed = await pollUntil(consumer, (rs) => rs.some((r) => r.value!.toString() === 'after'), 30_000);
    expect(resumed.map((r) => r.value!.toString())).toContain('after');
    await consumer.close();
  }, 90_000);
});
