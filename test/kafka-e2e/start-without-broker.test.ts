import fs from 'node:fs';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { freeBrokerPort, startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { PipelineChild, pipelineEnv } from './support/pipeline-child.js';
import { ProductTraffic } from './support/product-traffic.js';

/**
 * Issue 21 item 4: KAFKA_BROKERS names a broker that is not running yet. The app starts anyway:
 * the ingress answers 202 (from its disk spool), GET /ready says what it waits for, /health is
 * degraded. When the broker starts, the topics are created, the topology joins, the spool drains
 * in order, and every acknowledged event is counted exactly once.
 */
describe('the whole app started while its Kafka broker is down', () => {
  let broker: KafkaBroker | undefined;
  let dir: string;
  let child: PipelineChild | undefined;
  let log: KafkaLog | undefined;

  beforeAll(() => {
    dir = tempDir('kafka-no-broker-e2e');
  });

  afterAll(async () => {
    await child?.kill();
    await log?.close();
    await broker?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('starts, answers 2xx and says what it waits for; joins when the broker comes; exactly once, in order', async () => {
    const port = await freeBrokerPort();
    const brokers = `127.0.0.1:${port}`;
    child = await PipelineChild.start(pipelineEnv(brokers, dir, { APPLICATION_ID: 'no-broker-e2e' }));
    const running = child;

    const ready = await fetch(`${running.address}/ready`);
    expect(ready.status).toBe(503);
    const readyBody = (await ready.json()) as { status: string; waiting_for?: string[] };
    expect(readyBody.status).toBe('not_ready');
    expect(readyBody.waiting_for?.join(' ')).toContain(`Kafka at ${brokers}`);
    const health = await fetch(`${running.address}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'degraded', dependencies: { kafka: 'unhealthy' } });

    // Accepted from the spool while no broker exists.
    const traffic = new ProductTraffic(running.address, 'nobroker', 10, 0);
    for (let i = 0; i < 30; i++) expect(await traffic.send()).toBe(202);
    const spooled = await (await fetch(`${running.address}/metrics`)).text();
    expect(Number(/^streamline_ingress_events_spooled_total (\S+)$/m.exec(spooled)?.[1] ?? 0)).toBe(300);

    broker = await startKafkaBroker({ port });
    await running.started();
    // More while the spool drains: they queue behind it.
    for (let i = 0; i < 10; i++) expect(await traffic.send()).toBe(202);
    expect(traffic.failures).toEqual([]);
    const accepted = traffic.accepted;
    expect(accepted.size).toBe(400);

    const counts = await running.waitForCounts((c) => c.events >= accepted.size, 120_000);
    expect(counts).toMatchObject({ events: accepted.size, uniqueEvents: accepted.size, hourlyTotal: accepted.size });
    const readyAfter = await fetch(`${running.address}/ready`);
    expect(readyAfter.status).toBe(200);

    // In order: per user (one partition each), the landing topic holds the events in send order.
    log = await openKafkaLog({ brokers: [brokers], clientId: 'no-broker-e2e-reader' });
    const landing = await readAll(log, 'events.raw');
    const ids = landing.map((r) => (JSON.parse(r.value!.toString()) as { event_id: string }).event_id);
    expect(new Set(ids)).toEqual(accepted);
    const sequence = (id: string) => {
      const [, request, index] = id.split('-');
      return Number(request) * 1000 + Number(index);
    };
    const byPartition = new Map<number, number[]>();
    for (const [i, record] of landing.entries()) byPartition.set(record.partition, [...(byPartition.get(record.partition) ?? []), sequence(ids[i]!)]);
    for (const [partition, sequences] of byPartition) expect({ partition, sequences }).toEqual({ partition, sequences: [...sequences].sort((a, b) => a - b) });

    await running.stop();
    child = undefined;
  }, 300_000);
});
