import fs from 'node:fs';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { PipelineChild, pipelineEnv } from './support/pipeline-child.js';

/**
 * Issue 6, fault c: the broker goes away under ingress load and comes back. The ingress keeps
 * answering 202 from its disk spool (BUFFER_DIR), drains it when the broker is back, and every
 * accepted event reaches the clean topic, the routed topic and ClickHouse exactly once.
 * A broker of its own (stopped and started here), never the run's shared one.
 */
describe('the whole app on Kafka when the broker is stopped under ingress load', () => {
  let broker: KafkaBroker;
  let dir: string;
  let child: PipelineChild | undefined;
  let log: KafkaLog | undefined;

  beforeAll(async () => {
    broker = await startKafkaBroker();
    dir = tempDir('kafka-outage-e2e');
  }, 120_000);

  afterAll(async () => {
    await child?.kill();
    await log?.close();
    await broker?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('ingress answers 202 throughout, the spool drains, everything arrives exactly once', async () => {
    child = await PipelineChild.start(pipelineEnv(broker.brokers, dir, { APPLICATION_ID: 'outage-e2e' }));
    const accepted = new Set<string>();
    let batch = 0;
    const statuses: number[] = [];
    const send = async () => {
      const events = Array.from({ length: 25 }, (_, i) => ({
        event_id: `ev-${batch}-${i}`,
        event_name: i % 2 ? 'product_view' : 'add_to_cart',
        channel: i % 3 ? 'web' : 'mobile',
        user_id: `user_${(batch * 7 + i) % 40}`,
        timestamp: Date.now(),
      }));
      batch++;
      const response = await fetch(`${child!.address}/events/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
      statuses.push(response.status);
      const body = (await response.json()) as { event_ids?: string[] };
      if (response.status === 202) for (const id of body.event_ids ?? []) accepted.add(id);
    };
    const metric = async (name: string) => {
      const text = await (await fetch(`${child!.address}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    };

    // Before: written to Kafka directly.
    for (let i = 0; i < 20; i++) await send();
    expect(await metric('streamline_ingress_events_spooled_total')).toBe(0);

    await broker.stop();
    const ready = await fetch(`${child.address}/ready`);
    expect(ready.status).toBe(503);
    // During: every request still answered 202, from the spool.
    const duringStart = statuses.length;
    for (let i = 0; i < 40; i++) await send();
    expect(await metric('streamline_ingress_events_spooled_total')).toBeGreaterThanOrEqual(35 * 25);

    await broker.start();
    // After: the spool drains in order, new requests queue behind it.
    for (let i = 0; i < 20; i++) await send();
    expect(statuses.slice(duringStart).every((s) => s === 202)).toBe(true);
    expect(statuses.every((s) => s === 202)).toBe(true);
    expect(accepted.size).toBe(80 * 25);

    const counts = await child.waitForCounts((c) => c.events >= accepted.size, 120_000);
    expect(counts).toMatchObject({ events: accepted.size, uniqueEvents: accepted.size, hourlyTotal: accepted.size });
    expect(await metric('streamline_ingress_events_drained_total')).toBe(await metric('streamline_ingress_events_spooled_total'));

    // Caught up means lag 0 everywhere, also on topics written in transactions (the clean topic the
    // sink reads, the repartition topics), whose last offset is a commit marker, not a record.
    const lagSeries = async () => {
      const text = await (await fetch(`${child!.address}/metrics`)).text();
      return [...text.matchAll(/^(streamline_topology_consumer_lag|streamline_sink_lag_records)\{([^}]*)\} (\S+)$/gm)].map((m) => ({ name: m[1]!, labels: m[2]!, value: Number(m[3]) }));
    };
    let lag = await lagSeries();
    const lagDeadline = Date.now() + 30_000;
    while (lag.some((series) => series.value !== 0) && Date.now() < lagDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      lag = await lagSeries();
    }
    expect(new Set(lag.map((series) => series.name))).toEqual(new Set(['streamline_topology_consumer_lag', 'streamline_sink_lag_records']));
    expect(lag.filter((series) => series.value !== 0)).toEqual([]);

    // Topics: each accepted event exactly once in the clean topic and in its routed topic.
    log = await openKafkaLog({ brokers: [broker.brokers], clientId: 'outage-e2e-reader' });
    for (const topic of ['events.clean', 'user.activities']) {
      const ids = (await readAll(log, topic)).map((r) => (JSON.parse(r.value!.toString()) as { event_id: string }).event_id).sort();
      expect({ topic, count: ids.length, unique: new Set(ids).size }).toEqual({ topic, count: accepted.size, unique: accepted.size });
      expect(ids).toEqual([...accepted].sort());
    }
    await child.stop();
    child = undefined;
  }, 240_000);
});
