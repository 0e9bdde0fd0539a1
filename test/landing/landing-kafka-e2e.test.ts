import fs from 'node:fs';
import { compatibilityPartitioner, Producer } from '@platformatic/kafka';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { LandingChild } from './landing-child.js';
import { attemptEvent, idViewEvent, LANDING_SCHEMA_ID, landingTraffic, placementEvent, progressEvent, type LandingRecordSpec } from './landing-traffic.js';

/**
 * Issue 14, done-when 1: an upstream producer writes the landing topic with a plain Kafka client
 * (@platformatic/kafka's Producer, not the ingress), while the whole app runs in a child process
 * that is SIGKILLed mid-stream and started again on the same data directory. Every valid distinct
 * event is counted once (GET /metrics?event_name=..., the attempts / sessions tables, events_raw
 * per collector type), each repeated id once, and every invalid or garbage record is in the DLQ
 * with its reason. Some events with ids are also posted over HTTP (before the producer sends its
 * copies, and after): a client id is deduped whichever way each copy came (build item 2).
 */
const RUN = `landing-${process.pid}`;
const TOPICS = {
  KAFKA_TOPIC: `${RUN}.raw`,
  DLQ_TOPIC: `${RUN}.dlq`,
  CLEAN_EVENTS_TOPIC: `${RUN}.clean`,
  AGGREGATES_TOPIC: `${RUN}.aggregates`,
  REF_USERS_TOPIC: `${RUN}.ref.users`,
  REF_ITEMS_TOPIC: `${RUN}.ref.items`,
};

function childEnv(brokers: string, dataDir: string): Record<string, string> {
  return {
    ...TOPICS,
    KAFKA_BROKERS: brokers,
    APPLICATION_ID: RUN,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    COMMIT_INTERVAL_MS: '100',
    KAFKA_SESSION_TIMEOUT: '6s',
    KAFKA_TRANSACTION_TIMEOUT: '5s',
    SINK_BATCH_LINGER: '200ms',
    AGGREGATION_EMIT_INTERVAL: '200ms',
    CLICKHOUSE_EVENTS_TTL_DAYS: '0',
    LANDING_PROTOBUF_SCHEMA_ID: String(LANDING_SCHEMA_ID),
  };
}

/** Posts copies of events the producer also sends, one per seed route; each must be accepted (202/200). */
async function postOverHttp(address: string, indexes: number[], now: number): Promise<void> {
  const posts: Array<[string, unknown]> = [];
  for (const i of indexes) {
    posts.push(['/events', idViewEvent(i, now)], ['/api/v1/events/attempt', attemptEvent(i)], ['/api/v1/events/placement', placementEvent(i)]);
  }
  posts.push(['/api/v1/collect', indexes.map((i) => progressEvent(i, now))]);
  for (const [route, body] of posts) {
    const response = await fetch(`${address}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect({ route, status: response.status }).toEqual({ route, status: route === '/api/v1/collect' ? 200 : 202 });
  }
}

async function metricsTotal(address: string, eventName: string): Promise<number> {
  const response = await fetch(`${address}/metrics?event_name=${eventName}`);
  const body = (await response.json()) as { total_events?: number };
  return body.total_events ?? -1;
}

describe('the landing topic as a public contract, on a real broker', () => {
  let dir: string;
  let child: LandingChild | undefined;
  let producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;
  let reader: KafkaLog | undefined;

  beforeAll(() => {
    dir = tempDir('landing-kafka-e2e');
  });

  afterAll(async () => {
    await child?.kill();
    await producer?.close();
    await reader?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('a plain producer’s mix of bare, Protobuf, repeated, invalid and garbage records: each valid event counted once through a SIGKILL, each refused one in the DLQ with its reason', async () => {
    const brokers = testKafkaBrokers();
    const now = Date.now();
    const traffic = landingTraffic(now);
    // Murmur2 as Kafka's Java clients and the ingress (docs/LANDING.md, Key): the default agrees
    // only for power-of-two partition counts, and the HTTP copies must meet the producer's.
    producer = new Producer({ clientId: `${RUN}-upstream`, bootstrapBrokers: [brokers], autocreateTopics: false, partitioner: compatibilityPartitioner });
    const send = async (specs: LandingRecordSpec[]) => {
      for (let i = 0; i < specs.length; i += 50) {
        await producer!.send({
          messages: specs.slice(i, i + 50).map((spec) => ({ topic: TOPICS.KAFKA_TOPIC, key: spec.key === null ? undefined : Buffer.from(spec.key), value: spec.value, headers: new Map(Object.entries(spec.headers).map(([name, value]) => [Buffer.from(name), Buffer.from(value)])) })),
        });
      }
    };

    // Three landing partitions, not the default four: a key's partition then depends on the
    // murmur2 variant, so a producer partitioning otherwise than the ingress would fail the counts.
    reader = await openKafkaLog({ brokers: [brokers], clientId: `${RUN}-reader` });
    await reader.ensureTopic(TOPICS.KAFKA_TOPIC, { partitions: 3 });
    child = await LandingChild.start(childEnv(brokers, dir));
    await child.started;
    // Over HTTP first, the producer's copies later: the producer's must be the dropped ones.
    await postOverHttp(child.address, [0, 1, 2, 3], now);
    const half = Math.floor(traffic.records.length / 2);
    await send(traffic.records.slice(0, half));
    // Mid-stream: some events reached ClickHouse, more are in flight in the topology and sink.
    const rawCount = 'SELECT count() AS n FROM events_db.events_raw';
    for (let n = 0; n === 0; n = await child.count(rawCount)) await new Promise((resolve) => setTimeout(resolve, 100));
    await child.kill();
    await send(traffic.records.slice(half));
    child = await LandingChild.start(childEnv(brokers, dir));
    await child.started;
    // The producer's copies first (all sent by now), then over HTTP: the HTTP ones are dropped.
    await postOverHttp(child.address, [4, 5, 6, 7], now);

    const expected: Record<string, number> = {
      [rawCount]: traffic.valid,
      'SELECT uniqExact(event_id) AS n FROM events_db.events_raw': traffic.valid,
      'SELECT count() AS n FROM events_db.attempts': traffic.attempts,
      'SELECT uniqExact(client_attempt_id) AS n FROM events_db.attempts': traffic.attempts,
      'SELECT count() AS n FROM events_db.sessions': traffic.sessions,
      'SELECT count() AS n FROM events_db.placements': traffic.placements,
      'SELECT uniqExact(placement_id) AS n FROM events_db.placements': traffic.placements,
      ...Object.fromEntries(Object.entries(traffic.collector).map(([type, n]) => [`SELECT count() AS n FROM events_db.events_raw WHERE event_type = '${type}'`, n])),
    };
    expect(await child.waitForCounts(expected, 180_000)).toEqual(expected);

    const refused = traffic.records.filter((spec) => spec.refusedWith !== undefined);
    let dead = await readAll(reader, TOPICS.DLQ_TOPIC);
    for (const deadline = Date.now() + 60_000; dead.length < refused.length && Date.now() < deadline; dead = await readAll(reader, TOPICS.DLQ_TOPIC)) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(dead).toHaveLength(traffic.refused);
    // Each refused record once, with the reason its kind must give (matched by its original bytes).
    const unmatched = [...refused];
    for (const record of dead) {
      expect(record.headers.original_topic).toBe(TOPICS.KAFKA_TOPIC);
      const index = unmatched.findIndex((spec) => spec.value.equals(record.value!) && spec.refusedWith!.test(record.headers.dlq_reason ?? ''));
      expect({ reason: record.headers.dlq_reason, matched: index >= 0 }).toEqual({ reason: record.headers.dlq_reason, matched: true });
      unmatched.splice(index, 1);
    }
    expect(unmatched).toEqual([]);

    for (const [eventName, n] of Object.entries(traffic.productCounts)) expect({ eventName, total: await metricsTotal(child.address, eventName) }).toEqual({ eventName, total: n });
    expect(await metricsTotal(child.address, 'bad_view')).toBe(0);
    // Nothing more arrives after the DLQ and the counts settled: read them once more.
    for (const [sql, n] of Object.entries(expected)) expect({ sql, n: await child.count(sql) }).toEqual({ sql, n });
    await child.stop();
    child = undefined;
  }, 420_000);
});
