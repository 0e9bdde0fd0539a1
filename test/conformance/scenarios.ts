import { StreamsBuilder, TimeWindows, type KGroupedStream, type KStream, type Windowed } from '../../topology/index.js';
import type { Inputs, Phase } from './inputs.js';
import { WINDOW_SCENARIOS } from './scenarios-windows.js';
import { KTABLE_SCENARIOS } from './scenarios-ktable.js';
import { STORE_SCENARIOS } from './scenarios-stores.js';

/**
 * The conformance scenarios. Each has a twin of the same name in
 * conformance/kafka-streams/src/main/java/dev/streamline/conformance/Scenarios.java, written as a
 * Kafka Streams user writes it. A new operator adds one entry here and one case there.
 *
 * Windowed keys are compared as text, key@start/end, on both sides.
 */
export interface Scenario {
  name: string;
  /** Output topics, each compared on its own (records of different topics have no shared order on a log). */
  outputTopics: string[];
  inputs(inputs: Inputs): Phase[];
  /** Builds the topology; topic() maps a scenario topic to this run's topic. */
  build(builder: StreamsBuilder, topic: (name: string) => string): void;
  /**
   * Each phase waits until the scenario's internal topics are drained too, not only its inputs
   * (a foreign-key join's records pass through two internal topics before its output).
   */
  drainInternalTopics?: boolean;
}

type Json = Record<string, unknown> | null;
type Events = KStream<string | null, Json>;

const KEYS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
const TIERS = ['gold', 'silver', 'bronze'];
const EVENT_COUNT = 300;

const windowedKey = (windowed: Windowed<string>) => `${windowed.key}@${windowed.windowStart}/${windowed.windowEnd}`;
const num = (value: Json, field: string): number => (typeof value?.[field] === 'number' ? (value[field] as number) : 0);
const text = (value: Json, field: string): string | null => (typeof value?.[field] === 'string' ? (value[field] as string) : null);
const joined = (order: Json, user: Json | undefined) => ({ n: num(order, 'n'), tier: text(user ?? null, 'tier') });

interface EventShape {
  topic?: string;
  nullKeys?: number;
  nullValues?: number;
  keys?: readonly string[];
  value?: (inputs: Inputs) => Record<string, unknown>;
}

function events(inputs: Inputs, shape: EventShape = {}): Phase {
  const times = inputs.timestamps(EVENT_COUNT);
  return times.map((timestamp) => ({
    topic: shape.topic ?? 'events',
    key: inputs.chance(shape.nullKeys ?? 0.03) ? null : inputs.pick(shape.keys ?? KEYS),
    value: inputs.chance(shape.nullValues ?? 0.03) ? null : (shape.value ?? ((i) => ({ user: i.pick(KEYS), n: i.int(0, 99) })))(inputs),
    timestamp,
  }));
}

/** Users u0-u5 (u6, u7 never exist), some deleted by a tombstone later, some keys null. */
function users(inputs: Inputs, count: number, startMs: number, tombstones: number): Phase {
  return Array.from({ length: count }, (_, i) => ({
    topic: 'users',
    key: inputs.chance(0.05) ? null : inputs.pick(KEYS.slice(0, 6)),
    value: inputs.chance(tombstones) ? null : { tier: inputs.pick(TIERS) },
    timestamp: startMs + i * inputs.int(0, 500),
  }));
}

function orders(inputs: Inputs, nullKeys: number, nullValues: number): Phase {
  return events(inputs, {
    topic: 'orders',
    nullKeys,
    nullValues,
    // The user field is what the global-table join looks up; sometimes missing.
    value: (i) => (i.chance(0.05) ? { n: i.int(0, 99) } : { user: i.pick(KEYS), n: i.int(0, 99) }),
  });
}

/** Table first, stream, table updates (tombstones included), stream again. */
function tableJoinInputs(inputs: Inputs, nullKeys: number, nullValues: number): Phase[] {
  const stream = orders(inputs, nullKeys, nullValues);
  const half = stream.length / 2;
  return [[], users(inputs, 10, 0, 0), stream.slice(0, half), users(inputs, 8, 200_000, 0.3), stream.slice(half)];
}

/** A global table loads at start (phase 0): its contents are fixed for the run. */
function globalJoinInputs(inputs: Inputs, nullKeys: number, nullValues: number): Phase[] {
  return [users(inputs, 12, 0, 0.2), orders(inputs, nullKeys, nullValues)];
}

const grouped = (stream: Events) => (stream as KStream<string, Json>).groupByKey();
const TUMBLING = () => TimeWindows.ofSizeAndGrace(60_000, 10_000);

function windowedCountTo(group: KGroupedStream<string, Json>, windows: TimeWindows, onClose: boolean, topic: string): void {
  group
    .windowedBy(windows)
    .emit(onClose ? 'onWindowClose' : 'onUpdate')
    .count()
    .toStream()
    .selectKey((windowed) => windowedKey(windowed))
    .to(topic);
}

const eventsOf = (builder: StreamsBuilder, topic: (name: string) => string): Events => builder.stream<string | null, Json>(topic('events'));

export const SCENARIOS: Scenario[] = [
  {
    name: 'stream-table-join',
    outputTopics: ['out'],
    inputs: (i) => tableJoinInputs(i, 0.05, 0),
    build: (b, t) => {
      const table = b.table<string, Json>(t('users'));
      b.stream<string, Json>(t('orders')).join(table, joined).to(t('out'));
    },
  },
  {
    name: 'global-table-join',
    outputTopics: ['out'],
    inputs: (i) => globalJoinInputs(i, 0.05, 0),
    build: (b, t) => {
      const table = b.globalTable<string, Json>(t('users'));
      b.stream<string | null, Json>(t('orders')).joinGlobal(table, (_k, v) => text(v, 'user'), joined).to(t('out'));
    },
  },
  {
    name: 'stream-table-left-join-null-values',
    outputTopics: ['out'],
    inputs: (i) => tableJoinInputs(i, 0.1, 0.2),
    build: (b, t) => {
      const table = b.table<string, Json>(t('users'));
      b.stream<string, Json>(t('orders')).leftJoin(table, joined).to(t('out'));
    },
  },
  {
    name: 'global-table-left-join-null-values',
    outputTopics: ['out'],
    inputs: (i) => globalJoinInputs(i, 0.1, 0.2),
    build: (b, t) => {
      const table = b.globalTable<string, Json>(t('users'));
      b.stream<string | null, Json>(t('orders')).leftJoinGlobal(table, (_k, v) => text(v, 'user'), joined).to(t('out'));
    },
  },
  {
    name: 'filter-split',
    outputTopics: ['out-low', 'out-mid', 'out-high'],
    inputs: (i) => [[], events(i)],
    build: (b, t) => {
      const branches = eventsOf(b, t)
        .filter((_k, v) => v !== null && num(v, 'n') % 5 !== 0)
        .split([
          { name: 'low', predicate: (_k, v) => num(v, 'n') < 30 },
          { name: 'mid', predicate: (_k, v) => num(v, 'n') < 70 },
          { name: 'high', predicate: () => true },
        ]);
      for (const name of ['low', 'mid', 'high']) branches.get(name)!.to(t(`out-${name}`));
    },
  },
  {
    name: 'table-to-stream',
    outputTopics: ['out'],
    inputs: (i) => [[], users(i, 200, 0, 0.2)],
    build: (b, t) => b.table<string, Json>(t('users')).toStream().to(t('out')),
  },
  {
    name: 'tumbling-count-on-update',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i)],
    build: (b, t) => windowedCountTo(grouped(eventsOf(b, t)), TUMBLING(), false, t('out')),
  },
  {
    name: 'tumbling-count-on-close',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i)],
    build: (b, t) => windowedCountTo(grouped(eventsOf(b, t)), TUMBLING(), true, t('out')),
  },
  {
    name: 'tumbling-count-on-close-no-grace',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i)],
    build: (b, t) => windowedCountTo(grouped(eventsOf(b, t)), TimeWindows.ofSizeWithNoGrace(30_000), true, t('out')),
  },
  {
    name: 'hopping-sum',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i)],
    build: (b, t) =>
      grouped(eventsOf(b, t))
        .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 5_000).advanceBy(20_000))
        .aggregate<number>(() => 0, (_k, v, sum) => sum + num(v, 'n'))
        .toStream()
        .selectKey((windowed) => windowedKey(windowed))
        .to(t('out')),
  },
  {
    name: 'keyed-reduce-aggregate',
    outputTopics: ['out-reduce', 'out-aggregate'],
    inputs: (i) => [[], events(i)],
    build: (b, t) => {
      const group = grouped(eventsOf(b, t));
      group.reduce((a, v) => ({ n: num(a, 'n') + num(v, 'n') })).toStream().to(t('out-reduce'));
      group
        .aggregate<{ count: number; sum: number }>(() => ({ count: 0, sum: 0 }), (_k, v, agg) => ({ count: agg.count + 1, sum: agg.sum + num(v, 'n') }))
        .toStream()
        .to(t('out-aggregate'));
    },
  },
  {
    name: 'selectkey-repartition-window-count',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i, { keys: ['d0', 'd1', 'd2'] })],
    build: (b, t) => windowedCountTo(eventsOf(b, t).selectKey((_k, v) => text(v, 'user') as string).groupByKey(), TUMBLING(), false, t('out')),
  },
  {
    name: 'merge-count',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i)],
    build: (b, t) => {
      const all = eventsOf(b, t);
      const even = all.filter((_k, v) => v === null || num(v, 'n') % 2 === 0);
      const odd = all.filter((_k, v) => v !== null && num(v, 'n') % 2 !== 0).mapValues((v) => ({ n: num(v, 'n') * 10 }) as Json);
      grouped(even.merge(odd)).count().toStream().to(t('out'));
    },
  },
  {
    name: 'filter-window-count-on-close',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i, { value: (x) => ({ kind: x.chance(0.5) ? 'keep' : 'drop', n: x.int(0, 99) }) })],
    build: (b, t) => windowedCountTo(grouped(eventsOf(b, t).filter((_k, v) => text(v, 'kind') === 'keep')), TUMBLING(), true, t('out')),
  },
  {
    name: 'windowed-count-null-keys',
    outputTopics: ['out'],
    inputs: (i) => [[], events(i, { nullKeys: 0.3 })],
    build: (b, t) => windowedCountTo(grouped(eventsOf(b, t)), TUMBLING(), true, t('out')),
  },
  ...WINDOW_SCENARIOS,
  ...KTABLE_SCENARIOS,
  ...STORE_SCENARIOS,
];
