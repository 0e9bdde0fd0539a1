import { BufferConfig, SessionWindows, SlidingWindows, Suppressed, TableJoined, TimeWindows, type KStream, type KTable, type StreamsBuilder, type Windowed } from '../../topology/index.js';
import type { Inputs, Phase } from './inputs.js';
import type { Scenario } from './scenarios.js';

/**
 * The KTable scenarios (issue 19 part 3): KTable filter / mapValues / toStream, KStream.toTable,
 * table-table joins, KTable.groupBy + aggregate / reduce / count, suppress. Twins in conformance/kafka-streams/.../KTableScenarios.java.
 */

type Json = Record<string, unknown> | null;

const KEYS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
const TIERS = ['gold', 'silver', 'bronze'];
const PLANS = ['free', 'team', 'enterprise'];

const num = (value: Json | undefined, field: string): number => (typeof value?.[field] === 'number' ? (value[field] as number) : 0);
const text = (value: Json | undefined, field: string): string | null => (typeof value?.[field] === 'string' ? (value[field] as string) : null);

/**
 * Updates of a table topic: keys from a small set (so keys are updated, deleted and re-created),
 * some null keys, some tombstones, timestamps out of order around a moving clock.
 */
function tableUpdates(inputs: Inputs, topic: string, count: number, startMs: number, value: (i: Inputs) => Record<string, unknown>): Phase {
  let clock = startMs;
  return Array.from({ length: count }, () => {
    clock += inputs.int(0, 2000);
    return {
      topic,
      key: inputs.chance(0.05) ? null : inputs.pick(KEYS.slice(0, 6)),
      value: inputs.chance(0.2) ? null : value(inputs),
      timestamp: Math.max(0, clock - (inputs.chance(0.3) ? inputs.int(0, 10_000) : 0)),
    };
  });
}

const user = (i: Inputs) => ({ tier: i.pick(TIERS), score: i.int(0, 99) });
const PLAN_IDS = ['p0', 'p1', 'p2', 'p3'];
/** A user on a plan (by id), or on none. */
const planUser = (i: Inputs) => (i.chance(0.1) ? { tier: i.pick(TIERS) } : { tier: i.pick(TIERS), planId: i.pick(PLAN_IDS) });
const plan = (i: Inputs) => ({ plan: i.pick(PLANS) });
/** A user whose tier is sometimes missing: its group key is then null and the row is in no group. */
const rankedUser = (i: Inputs) => (i.chance(0.05) ? { score: i.int(0, 99) } : user(i));

function streamEvents(inputs: Inputs, count: number): Phase {
  let clock = 100_000;
  return Array.from({ length: count }, () => {
    clock += inputs.int(0, 3000);
    return {
      topic: 'events',
      key: inputs.chance(0.05) ? null : inputs.pick(KEYS),
      value: inputs.chance(0.1) ? null : inputs.chance(0.05) ? { n: inputs.int(0, 99) } : { user: inputs.pick(KEYS.slice(0, 4)), n: inputs.int(0, 99) },
      timestamp: Math.max(0, clock - (inputs.chance(0.3) ? inputs.int(0, 20_000) : 0)),
    };
  });
}

/** Both tables updated in turns, each phase processed before the next is produced. */
function twoTables(inputs: Inputs): Phase[] {
  const phases: Phase[] = [[]];
  for (let round = 0; round < 4; round++) {
    phases.push(tableUpdates(inputs, 'users', 25, round * 60_000, user));
    phases.push(tableUpdates(inputs, 'plans', 25, round * 60_000 + 20_000, plan));
  }
  return phases;
}

const tierAndPlan = (u: Json | undefined, p: Json | undefined) => ({ tier: text(u, 'tier'), plan: text(p, 'plan') });

const windowedKey = (windowed: Windowed<string>) => `${windowed.key}@${windowed.windowStart}/${windowed.windowEnd}`;
const eventsOf = (b: StreamsBuilder, t: (name: string) => string) => b.stream<string | null, Json>(t('events')) as KStream<string, Json>;

const usersOf = (b: StreamsBuilder, t: (name: string) => string): KTable<string, Json> => b.table<string, Json>(t('users'));

export const KTABLE_SCENARIOS: Scenario[] = [
  {
    name: 'ktable-filter-mapvalues-to-stream',
    outputTopics: ['out-filter', 'out-map', 'out-filter-map'],
    inputs: (i) => [[], tableUpdates(i, 'users', 200, 0, user)],
    build: (b, t) => {
      const users = usersOf(b, t);
      users.filter((_k, v) => text(v, 'tier') !== 'bronze').toStream().to(t('out-filter'));
      users.mapValues((v, k) => ({ key: k, level: num(v, 'score') >= 50 ? 'high' : 'low' }) as Json).toStream().to(t('out-map'));
      users
        .filterNot((_k, v) => num(v, 'score') < 30)
        .mapValues((v) => ({ tier: text(v, 'tier') }) as Json)
        .toStream()
        .to(t('out-filter-map'));
    },
  },
  {
    name: 'stream-to-table',
    outputTopics: ['out', 'out-rekeyed'],
    inputs: (i) => [[], streamEvents(i, 300)],
    build: (b, t) => {
      const events = b.stream<string | null, Json>(t('events')) as KStream<string, Json>;
      events.toTable().toStream().to(t('out'));
      events
        .selectKey((_k, v) => text(v, 'user') as string)
        .toTable()
        .filter((_k, v) => num(v, 'n') >= 50)
        .toStream()
        .to(t('out-rekeyed'));
    },
  },
  {
    name: 'table-table-joins',
    outputTopics: ['out-inner', 'out-left', 'out-outer'],
    inputs: twoTables,
    build: (b, t) => {
      const users = usersOf(b, t);
      const plans = b.table<string, Json>(t('plans'));
      users.join(plans, tierAndPlan).toStream().to(t('out-inner'));
      users.leftJoin(plans, tierAndPlan).toStream().to(t('out-left'));
      users.outerJoin(plans, tierAndPlan).toStream().to(t('out-outer'));
    },
  },
  {
    name: 'ktable-groupby-aggregate',
    outputTopics: ['out-count', 'out-sum', 'out-reduce', 'out-filtered-count'],
    inputs: (i) => [[], tableUpdates(i, 'users', 200, 0, rankedUser)],
    build: (b, t) => {
      const users = usersOf(b, t);
      const byTier = users.groupBy((_k, v) => [text(v, 'tier') as string, { score: num(v, 'score') } as Json]);
      byTier.count().toStream().to(t('out-count'));
      byTier
        .aggregate<number>(() => 0, (_k, v, sum) => sum + num(v, 'score'), (_k, v, sum) => sum - num(v, 'score'))
        .toStream()
        .to(t('out-sum'));
      byTier
        .reduce((a, v) => ({ score: num(a, 'score') + num(v, 'score') }), (a, v) => ({ score: num(a, 'score') - num(v, 'score') }))
        .toStream()
        .to(t('out-reduce'));
      users
        .filter((_k, v) => num(v, 'score') >= 20)
        .groupBy((_k, v) => [text(v, 'tier') as string, v])
        .count()
        .toStream()
        .to(t('out-filtered-count'));
    },
  },
  {
    name: 'suppress-until-window-closes',
    outputTopics: ['out', 'out-no-grace', 'out-session', 'out-sliding'],
    inputs: (i) => [[], streamEvents(i, 300)],
    build: (b, t) => {
      const grouped = eventsOf(b, t).groupByKey();
      for (const [windows, topic] of [
        [TimeWindows.ofSizeAndGrace(60_000, 10_000), 'out'],
        [TimeWindows.ofSizeWithNoGrace(30_000), 'out-no-grace'],
      ] as const) {
        grouped
          .windowedBy(windows)
          .count()
          .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
          .toStream()
          .selectKey((windowed) => windowedKey(windowed))
          .to(t(topic));
      }
      // A session closes at its end + gap + grace (a later record could still extend it until then).
      grouped
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000))
        .count()
        .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
        .toStream()
        .selectKey((windowed) => windowedKey(windowed))
        .to(t('out-session'));
      grouped
        .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10_000, 5_000))
        .count()
        .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
        .toStream()
        .selectKey((windowed) => windowedKey(windowed))
        .to(t('out-sliding'));
    },
  },
  {
    name: 'suppress-until-time-limit',
    outputTopics: ['out', 'out-bounded', 'out-table'],
    inputs: (i) => [[], streamEvents(i, 300)],
    build: (b, t) => {
      const events = eventsOf(b, t);
      const counts = events.groupByKey().count();
      counts.suppress(Suppressed.untilTimeLimit(20_000, BufferConfig.unbounded())).toStream().to(t('out'));
      counts.suppress(Suppressed.untilTimeLimit(20_000, BufferConfig.maxRecords(3))).toStream().to(t('out-bounded'));
      events.toTable().suppress(Suppressed.untilTimeLimit(10_000, BufferConfig.maxRecords(2, 'emitEarlyWhenFull'))).toStream().to(t('out-table'));
    },
  },
  {
    // Foreign-key join: each user names a plan (plan id p0-p3, sometimes none); plans change
    // too. One record a phase, so the subscription and response topics are drained between
    // records, as TopologyTestDriver processes them.
    name: 'foreign-key-join',
    outputTopics: ['out-inner', 'out-left'],
    drainInternalTopics: true,
    inputs: (i) => {
      const phases: Phase[] = [[]];
      for (let round = 0; round < 4; round++) {
        for (const record of tableUpdates(i, 'users', 12, round * 60_000, planUser)) phases.push([record]);
        for (const record of tableUpdates(i, 'plans', 6, round * 60_000 + 20_000, plan)) phases.push([{ ...record, key: record.key === null ? null : PLAN_IDS[KEYS.indexOf(record.key) % PLAN_IDS.length]! }]);
      }
      return phases;
    },
    build: (b, t) => {
      const users = usersOf(b, t);
      const plans = b.table<string, Json>(t('plans'));
      users.join(plans, (u) => text(u, 'planId'), tierAndPlan).toStream().to(t('out-inner'));
      users.leftJoin(plans, (u) => text(u, 'planId'), tierAndPlan).toStream().to(t('out-left'));
    },
  },
  {
    // TableJoined.with(partitioner, otherPartitioner).withName(...): on one partition the
    // partitioners choose partition 0 or leave it to the default (null); the results must be
    // the foreign-key join's. Placement on several partitions: test/topology/foreign-key-join-table-joined.test.ts.
    name: 'foreign-key-join-table-joined',
    outputTopics: ['out-inner', 'out-left'],
    drainInternalTopics: true,
    inputs: (i) => {
      const phases: Phase[] = [[]];
      for (let round = 0; round < 4; round++) {
        for (const record of tableUpdates(i, 'users', 12, round * 60_000, planUser)) phases.push([record]);
        for (const record of tableUpdates(i, 'plans', 6, round * 60_000 + 20_000, plan)) phases.push([{ ...record, key: record.key === null ? null : PLAN_IDS[KEYS.indexOf(record.key) % PLAN_IDS.length]! }]);
      }
      return phases;
    },
    build: (b, t) => {
      const users = usersOf(b, t);
      const plans = b.table<string, Json>(t('plans'));
      // A left join registers rows without a foreign key too: the partitioner then sees a null key.
      const lastCharParity = (_topic: string, key: string | null, _value: null, numPartitions: number) =>
        key === null || key.charCodeAt(key.length - 1) % 2 === 0 ? null : [numPartitions - 1];
      const joined = (name: string) => TableJoined.with<string, string | null>(lastCharParity, lastCharParity).withName(t(name));
      users.join(plans, (u) => text(u, 'planId'), tierAndPlan, joined('user-plan')).toStream().to(t('out-inner'));
      users.leftJoin(plans, (u) => text(u, 'planId'), tierAndPlan, joined('user-plan-left')).toStream().to(t('out-left'));
    },
  },];
