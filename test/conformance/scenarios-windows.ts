import { JoinWindows, SessionWindows, SlidingWindows, StreamsBuilder, TimeWindows, WindowedSerdes, type KStream, type Windowed } from '../../topology/index.js';
import { stringSerde } from '../../state/Serde.js';
import type { Inputs, Phase } from './inputs.js';
import type { Scenario } from './scenarios.js';

/**
 * Conformance scenarios of the windowing and stream-side operators (issue 19 part 3): each has a
 * twin of the same name in conformance/kafka-streams/.../WindowScenarios.java.
 */

type Json = Record<string, unknown> | null;

const KEYS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
const EVENT_COUNT = 300;

const windowedKey = (windowed: Windowed<string>) => `${windowed.key}@${windowed.windowStart}/${windowed.windowEnd}`;
const num = (value: Json, field: string): number => (typeof value?.[field] === 'number' ? (value[field] as number) : 0);

/** User activity: out of order, some late, 3% null keys and values (inputs.ts's clock). */
function activity(inputs: Inputs, topic = 'events'): Phase {
  return inputs.timestamps(EVENT_COUNT).map((timestamp) => ({
    topic,
    key: inputs.chance(0.03) ? null : inputs.pick(KEYS),
    value: inputs.chance(0.03) ? null : { n: inputs.int(0, 99) },
    timestamp,
  }));
}

const eventsOf = (builder: StreamsBuilder, topic: (name: string) => string) => builder.stream<string, Json>(topic('events'));
const asJson = (value: unknown): Json => (value === null || value === undefined ? null : (value as Json));

/**
 * Two streams in alternating phases of 15 records: within a phase one topic, so both sides see
 * the records in the same order (a task reading two topics picks the lower timestamp first,
 * TopologyTestDriver takes them as piped).
 */
function twoStreams(inputs: Inputs): Phase[] {
  const orders = activity(inputs, 'orders');
  const payments = activity(inputs, 'payments');
  const phases: Phase[] = [[]];
  for (let i = 0; i < orders.length; i += 30) phases.push(orders.slice(i, i + 30), payments.slice(i, i + 30));
  return phases;
}

const pair = (order: Json, payment: Json): Json => ({ o: num(order, 'n'), p: num(payment, 'n') });
/** A missing side (undefined here, null in Kafka Streams) shows as null. */
const pairOrMissing = (order: Json | undefined, payment: Json | undefined): Json => ({ o: order ? num(order, 'n') : null, p: payment ? num(payment, 'n') : null });

export const WINDOW_SCENARIOS: Scenario[] = [
  {
    // Windowed keys through a topic with WindowedSerdes and back: both sides write and read the
    // same bytes (the inner key, then the window start).
    name: 'windowed-serde-repartition',
    outputTopics: ['out'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) =>
      eventsOf(b, t)
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
        .count()
        .toStream()
        .repartition({ keySerde: WindowedSerdes.timeWindowedSerdeFrom(stringSerde, 60_000) })
        .selectKey((windowed) => windowedKey(windowed))
        .to(t('out')),
  },
  {
    name: 'session-count',
    outputTopics: ['out'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) =>
      eventsOf(b, t)
        .groupByKey()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000))
        .count()
        .toStream()
        .map((windowed, count): [string, Json] => [windowedKey(windowed), asJson(count)])
        .to(t('out')),
  },
  {
    name: 'session-reduce-aggregate-no-grace',
    outputTopics: ['out-reduce', 'out-aggregate'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) => {
      const sessions = (eventsOf(b, t) as KStream<string, Json>).groupByKey().windowedBy(SessionWindows.ofInactivityGapWithNoGrace(8_000));
      sessions
        .reduce((a, v) => ({ n: num(a, 'n') + num(v, 'n') }))
        .toStream()
        .selectKey((windowed) => windowedKey(windowed))
        .to(t('out-reduce'));
      sessions
        .aggregate<{ count: number; max: number }>(
          () => ({ count: 0, max: 0 }),
          (_k, v, agg) => ({ count: agg.count + 1, max: Math.max(agg.max, num(v, 'n')) }),
          (_k, a, b2) => ({ count: a.count + b2.count, max: Math.max(a.max, b2.max) }),
        )
        .toStream()
        .selectKey((windowed) => windowedKey(windowed))
        .to(t('out-aggregate'));
    },
  },
  {
    // Sliding windows: records of a key within 10 s of each other share windows; early records
    // (before 10 s) share [0, 10000]; late ones beyond grace are dropped.
    name: 'sliding-count',
    outputTopics: ['out'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) =>
      eventsOf(b, t)
        .groupByKey()
        .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10_000, 5_000))
        .count()
        .toStream()
        .map((windowed, count): [string, Json] => [windowedKey(windowed), asJson(count)])
        .to(t('out')),
  },
  {
    name: 'sliding-reduce-aggregate-no-grace',
    outputTopics: ['out-reduce', 'out-aggregate'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) => {
      const windowed = (eventsOf(b, t) as KStream<string, Json>).groupByKey().windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(8_000));
      windowed
        .reduce((a, v) => ({ n: num(a, 'n') + num(v, 'n') }))
        .toStream()
        .selectKey((w) => windowedKey(w))
        .to(t('out-reduce'));
      windowed
        .aggregate<{ count: number; max: number }>(
          () => ({ count: 0, max: 0 }),
          (_k, v, agg) => ({ count: agg.count + 1, max: Math.max(agg.max, num(v, 'n')) }),
        )
        .toStream()
        .selectKey((w) => windowedKey(w))
        .to(t('out-aggregate'));
    },
  },
  {
    // EmitStrategy.onWindowClose on sliding windows: each window once, when stream time passes
    // its end + grace; records before the time difference (processEarly) emit nothing themselves.
    name: 'sliding-on-close',
    outputTopics: ['out-count', 'out-aggregate'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) => {
      const events = eventsOf(b, t) as KStream<string, Json>;
      events
        .groupByKey()
        .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10_000, 5_000))
        .emit('onWindowClose')
        .count()
        .toStream()
        .map((windowed, count): [string, Json] => [windowedKey(windowed), asJson(count)])
        .to(t('out-count'));
      events
        .groupByKey()
        .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(8_000))
        .emit('onWindowClose')
        .aggregate<{ count: number; max: number }>(
          () => ({ count: 0, max: 0 }),
          (_k, v, agg) => ({ count: agg.count + 1, max: Math.max(agg.max, num(v, 'n')) }),
        )
        .toStream()
        .selectKey((w) => windowedKey(w))
        .to(t('out-aggregate'));
    },
  },
  {
    name: 'session-on-close',
    outputTopics: ['out', 'out-no-grace'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) => {
      const events = eventsOf(b, t) as KStream<string, Json>;
      for (const [windows, topic] of [
        [SessionWindows.ofInactivityGapAndGrace(10_000, 5_000), 'out'],
        [SessionWindows.ofInactivityGapWithNoGrace(8_000), 'out-no-grace'],
      ] as const) {
        events
          .groupByKey()
          .windowedBy(windows)
          .emit('onWindowClose')
          .count()
          .toStream()
          .map((windowed, count): [string, Json] => [windowedKey(windowed), asJson(count)])
          .to(t(topic));
      }
    },
  },
  {
    name: 'stream-stream-inner-join',
    outputTopics: ['out'],
    inputs: twoStreams,
    build: (b, t) => {
      const payments = b.stream<string, Json>(t('payments'));
      b.stream<string, Json>(t('orders')).join(payments, pair, JoinWindows.ofTimeDifferenceAndGrace(10_000, 5_000)).to(t('out'));
    },
  },
  {
    // Unjoined orders leave once their window closes (stream time past t + after + grace), or at
    // once when already that late; null-key orders pass unjoined.
    name: 'stream-stream-left-join',
    outputTopics: ['out'],
    inputs: twoStreams,
    build: (b, t) => {
      const payments = b.stream<string, Json>(t('payments'));
      b.stream<string, Json>(t('orders')).leftJoin(payments, pairOrMissing, JoinWindows.ofTimeDifferenceAndGrace(10_000, 5_000)).to(t('out'));
    },
  },
  {
    // Asymmetric window: a left record's window closes `after` past it, a right record's `before`.
    name: 'stream-stream-outer-join',
    outputTopics: ['out'],
    inputs: twoStreams,
    build: (b, t) => {
      const payments = b.stream<string, Json>(t('payments'));
      b.stream<string, Json>(t('orders')).outerJoin(payments, pairOrMissing, JoinWindows.ofTimeDifferenceAndGrace(8_000, 3_000).after(12_000)).to(t('out'));
    },
  },
];
