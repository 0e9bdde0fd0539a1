import { inMemoryKeyValueStore, Repartitioned, SessionWindows, SlidingWindows, TimeWindows, type KGroupedStream, type KStream, type StreamsBuilder, type Windowed } from '../../topology/index.js';
import type { Inputs, Phase } from './inputs.js';
import type { Scenario } from './scenarios.js';

/**
 * The store-option scenarios (issue 19 part 3): Materialized in-memory stores, logging and
 * caching disabled. Twins in conformance/kafka-streams/.../StoreScenarios.java.
 */

type Json = Record<string, unknown> | null;

const KEYS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
const USERS = ['a0', 'a1', 'a2', 'a3'];
const num = (value: Json, field: string): number => (typeof value?.[field] === 'number' ? (value[field] as number) : 0);

/** Keyed events, some null keys and null values (both dropped by an aggregation), timestamps out of order. */
function events(inputs: Inputs, count: number): Phase {
  return inputs.timestamps(count).map((timestamp) => ({
    topic: 'events',
    key: inputs.chance(0.03) ? null : inputs.pick(KEYS),
    value: inputs.chance(0.03) ? null : { n: inputs.int(0, 99) },
    timestamp,
  }));
}

const eventsOf = (b: StreamsBuilder, t: (name: string) => string) => b.stream<string | null, Json>(t('events')) as KStream<string, Json>;

export const STORE_SCENARIOS: Scenario[] = [
  {
    name: 'aggregate-in-memory-store',
    outputTopics: ['out-in-memory', 'out-no-logging'],
    inputs: (i) => [[], events(i, 300)],
    build: (b, t) => {
      const group = eventsOf(b, t).groupByKey();
      group
        .aggregate<{ count: number; sum: number }>(() => ({ count: 0, sum: 0 }), (_k, v, agg) => ({ count: agg.count + 1, sum: agg.sum + num(v, 'n') }), {
          ...inMemoryKeyValueStore(t('agg-in-memory')),
          cachingEnabled: false,
        })
        .toStream()
        .to(t('out-in-memory'));
      group.count({ ...inMemoryKeyValueStore(t('count-no-logging')), loggingEnabled: false }).toStream().to(t('out-no-logging'));
    },
  },
  {
    // Materialized.withLoggingDisabled() on RocksDB stores: a count, a tumbling-window count and
    // a session count. The driver never restarts, so this checks the operators are the same with
    // the option; what it changes (no changelog, state lost with a crash) is test/topology/logging-disabled-*.test.ts.
    name: 'rocksdb-logging-disabled',
    outputTopics: ['out-count', 'out-windowed', 'out-session'],
    inputs: (i) => [[], events(i, 300)],
    build: (b, t) => {
      const group = eventsOf(b, t).groupByKey();
      const windowedKey = (w: Windowed<string>) => `${w.key}@${w.windowStart}/${w.windowEnd}`;
      group.count({ name: t('count-unlogged'), loggingEnabled: false }).toStream().to(t('out-count'));
      group
        .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
        .count({ name: t('windowed-unlogged'), loggingEnabled: false })
        .toStream()
        .selectKey(windowedKey)
        .to(t('out-windowed'));
      group
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000))
        .count({ name: t('session-unlogged'), loggingEnabled: false })
        .toStream()
        .selectKey(windowedKey)
        .to(t('out-session'));
    },
  },
  {
    // Three tasks read the repartition topic here, one in Kafka Streams' driver: records of
    // different keys may interleave differently, so each key is written to its own topic and
    // compared there (value, order and timestamp per key). Placement: test/topology/repartition-partitions.test.ts.
    name: 'repartition-named-partitions',
    outputTopics: USERS.map((user) => `out-${user}`),
    inputs: (i) => [[], i.timestamps(300).map((timestamp) => ({ topic: 'events', key: i.chance(0.05) ? null : i.pick(KEYS), value: { user: i.pick(USERS), n: i.int(0, 99) }, timestamp }))],
    build: (b, t) => {
      eventsOf(b, t)
        .selectKey((_k, v) => v!.user as string)
        .repartition({ ...Repartitioned.as(t('by-user')), numberOfPartitions: 3 })
        .groupByKey()
        .aggregate<number>(() => 0, (_k, v, sum) => sum + num(v, 'n'))
        .toStream()
        .to((record) => t(`out-${record.key}`));
    },
  },
  {
    // Clicks and orders in alternating phases, so both sides process them in the same order.
    name: 'cogroup-aggregate',
    outputTopics: ['out'],
    inputs: (i) => [[], keyed(i, 'clicks', 60, 0), keyed(i, 'orders', 60, 0), keyed(i, 'clicks', 60, 200_000), keyed(i, 'orders', 60, 200_000)],
    build: (b, t) => {
      const clicks = b.stream<string | null, Json>(t('clicks')).groupByKey() as unknown as KGroupedStream<string, Json>;
      const orders = b.stream<string | null, Json>(t('orders')).groupByKey() as unknown as KGroupedStream<string, Json>;
      clicks
        .cogroup<{ clicks: number; spent: number }>((_k, _v, agg) => ({ clicks: agg.clicks + 1, spent: agg.spent }))
        .cogroup(orders, (_k, v, agg) => ({ clicks: agg.clicks, spent: agg.spent + num(v, 'n') }))
        .aggregate(() => ({ clicks: 0, spent: 0 }))
        .toStream()
        .to(t('out'));
    },
  },
  {
    // CogroupedKStream.windowedBy: the same two streams over tumbling, sliding and session
    // windows; each input's aggregation has its own stream time (late records differ per input).
    name: 'cogroup-windowed',
    outputTopics: ['out-time', 'out-sliding', 'out-session'],
    inputs: (i) => [[], keyed(i, 'clicks', 60, 0), keyed(i, 'orders', 60, 0), keyed(i, 'clicks', 60, 200_000), keyed(i, 'orders', 60, 200_000)],
    build: (b, t) => {
      const clicks = b.stream<string | null, Json>(t('clicks')).groupByKey() as unknown as KGroupedStream<string, Json>;
      const orders = b.stream<string | null, Json>(t('orders')).groupByKey() as unknown as KGroupedStream<string, Json>;
      type Agg = { clicks: number; spent: number };
      const cogroup = () =>
        clicks.cogroup<Agg>((_k, _v, agg) => ({ clicks: agg.clicks + 1, spent: agg.spent })).cogroup(orders, (_k, v, agg) => ({ clicks: agg.clicks, spent: agg.spent + num(v, 'n') }));
      const init = () => ({ clicks: 0, spent: 0 });
      const windowedKey = (w: Windowed<string>) => `${w.key}@${w.windowStart}/${w.windowEnd}`;
      cogroup().windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000)).aggregate(init).toStream().selectKey(windowedKey).to(t('out-time'));
      cogroup().windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10_000, 5_000)).aggregate(init).toStream().selectKey(windowedKey).to(t('out-sliding'));
      cogroup()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000))
        .aggregate(init, (_k, a, b2) => ({ clicks: a.clicks + b2.clicks, spent: a.spent + b2.spent }))
        .toStream()
        .selectKey(windowedKey)
        .to(t('out-session'));
    },
  },
  {
    // Produced.streamPartitioner and Repartitioned.streamPartitioner: a partitioner that sends a
    // record nowhere (empty set) drops it; otherwise to partition n % numPartitions (one here,
    // as in the driver); a null value gets the default partitioner.
    name: 'stream-partitioner',
    outputTopics: ['out', 'out-repartitioned'],
    inputs: (i) => [[], i.timestamps(300).map((timestamp) => ({ topic: 'events', key: i.chance(0.05) ? null : i.pick(KEYS), value: i.chance(0.05) ? null : { n: i.int(0, 99) }, timestamp }))],
    build: (b, t) => {
      const dropEvery = (d: number) => (_topic: string, _key: string, value: Json, numPartitions: number) =>
        value === null || value === undefined ? null : num(value, 'n') % d === 0 ? [] : [num(value, 'n') % numPartitions];
      const events = eventsOf(b, t);
      events.to(t('out'), { streamPartitioner: dropEvery(7) });
      events.repartition({ streamPartitioner: dropEvery(5) }).to(t('out-repartitioned'));
    },
  },
  {
    // to(TopicNameExtractor, Produced.streamPartitioner): the topic picked per record (by the
    // value's parity; null values to out-null), then the partitioner drops some of them and keeps
    // the default for null values. The partition count reaches the partitioner at commit here.
    name: 'topic-extractor-partitioner',
    outputTopics: ['out-even', 'out-odd', 'out-null'],
    inputs: (i) => [[], i.timestamps(300).map((timestamp) => ({ topic: 'events', key: i.chance(0.05) ? null : i.pick(KEYS), value: i.chance(0.05) ? null : { n: i.int(0, 99) }, timestamp }))],
    build: (b, t) => {
      const parity = (value: Json) => (value === null || value === undefined ? 'null' : num(value, 'n') % 2 === 0 ? 'even' : 'odd');
      eventsOf(b, t).to((record) => t(`out-${parity(record.value)}`), {
        streamPartitioner: (_topic, _key, value: Json, numPartitions) => (value === null || value === undefined ? null : num(value, 'n') % 7 === 0 ? [] : [num(value, 'n') % numPartitions]),
      });
    },
  },
];

/** Records of one topic keyed by user (some null keys and values), timestamps out of order from startMs. */
function keyed(inputs: Inputs, topic: string, count: number, startMs: number): Phase {
  return inputs.timestamps(count).map((timestamp) => ({
    topic,
    key: inputs.chance(0.05) ? null : inputs.pick(KEYS.slice(0, 5)),
    value: inputs.chance(0.05) ? null : { n: inputs.int(0, 99) },
    timestamp: startMs + timestamp,
  }));
}
