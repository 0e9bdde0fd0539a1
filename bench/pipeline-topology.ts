/**
 * The default pipeline's topology (processors/DefaultPipeline.ts: parse → dedupe → enrich →
 * filter → route, clean events, six windowed aggregations with their repartition topics) in
 * process on the embedded log: no HTTP, no ClickHouse sink. N landing events (a mix of attempts,
 * sessions, placements, collector and product events over 5,000 users with reference data) are in
 * the log before the app starts; the clock runs until every input the app reads (landing and the
 * repartition topics) is committed to its end. Reports events/s and main-thread CPU µs per event,
 * so A/B runs of topology changes need neither the service nor the load generator.
 *
 *   npx tsx bench/pipeline-topology.ts [events=100000]
 *   node --cpu-prof --import tsx bench/pipeline-topology.ts 30000        (a profile of it)
 *   npx tsx bench/pipeline-topology.ts 20000 --ab /path/to/treeA /path/to/treeB [rounds=6]
 *   BENCH_COUNT_RECORDS=1 BENCH_COUNT_JSON=1 npx tsx bench/pipeline-topology.ts 20000   (exact counts per event)
 *   BENCH_AGGREGATORS=none|local|all npx tsx bench/pipeline-topology.ts 40000            (what the aggregations cost)
 *   BENCH_COMMIT_INTERVAL_MS=1000 npx tsx bench/pipeline-topology.ts 20000             (default 100, the service's)
 *
 * --ab loads the pipeline modules of two source trees (e.g. `git worktree add` of two commits)
 * into this one process and runs them alternately, A B A B ..., on fresh logs: on a shared,
 * busy machine the two see the same load far more closely than two separate runs minutes apart.
 * It prints every run and the median of the B/A ratios of main-thread-bound CPU per event.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProducerRecord, TopicPartition } from '../log/Log.js';
import { median } from './lib/Percentiles.js';

const EVENTS = Number(process.argv[2] ?? 100_000);
const abAt = process.argv.indexOf('--ab');
const AB = abAt >= 0 ? { a: process.argv[abAt + 1]!, b: process.argv[abAt + 2]!, rounds: Number(process.argv[abAt + 3] ?? 6) } : undefined;
// BENCH_COUNT_JSON=1: count JSON.stringify / JSON.parse calls while the topology runs (a
// deterministic figure for A/B runs on a busy machine; the counting itself costs time).
const jsonCalls = { stringify: 0, parse: 0 };
function countJsonCalls(): () => void {
  const { stringify, parse } = JSON;
  jsonCalls.stringify = jsonCalls.parse = 0;
  JSON.stringify = ((...args: Parameters<typeof stringify>) => (jsonCalls.stringify++, stringify(...args))) as typeof stringify;
  JSON.parse = ((...args: Parameters<typeof parse>) => (jsonCalls.parse++, parse(...args))) as typeof parse;
  return () => {
    JSON.stringify = stringify;
    JSON.parse = parse;
  };
}
// BENCH_AGGREGATORS=none | local | all (default): which of the six windowed aggregations run;
// `local` keeps the two that need no repartition topic. What each part of the pipeline costs.
const AGGREGATORS = process.env.BENCH_AGGREGATORS ?? 'all';
if (!['none', 'local', 'all'].includes(AGGREGATORS)) throw new Error(`BENCH_AGGREGATORS must be none, local or all, not ${AGGREGATORS}`);
function aggregatorsOf(tree: Tree): typeof tree.DEFAULT_AGGREGATORS {
  if (AGGREGATORS === 'none') return [];
  return AGGREGATORS === 'local' ? tree.DEFAULT_AGGREGATORS.filter((spec) => !spec.keyOf) : tree.DEFAULT_AGGREGATORS;
}
// The app's commit interval (default 100 ms, the service's). With the log preloaded, a poll returns
// up to 5,000 records and a commit comes after they are processed, so the interval only decides
// how many events a commit (and a pre-aggregated partial) covers when that takes less than it.
const COMMIT_INTERVAL_MS = Number(process.env.BENCH_COMMIT_INTERVAL_MS ?? 100);
const USERS = 5000;
const ITEMS = 500;
const PARTITIONS = 4;
const APP_ID = 'bench-pipeline';

function lcg(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const zones = [
  { country: 'US', timezone: 'America/New_York' },
  { country: 'DE', timezone: 'Europe/Berlin' },
  { country: 'IN', timezone: 'Asia/Kolkata' },
  { country: 'BR', timezone: 'America/Sao_Paulo' },
];

function landingRecords(): ProducerRecord[] {
  const random = lcg(7);
  const base = Date.UTC(2026, 0, 5, 8);
  const out: ProducerRecord[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const user = `user_${Math.floor(random() * USERS)}`;
    const receivedAt = base + i * 5;
    const r = random();
    let envelope: Record<string, unknown>;
    if (r < 0.6) {
      const id = `att_${i}`;
      envelope = {
        v: 1, event_id: id, id_assigned: false, event_type: 'attempt', source: 'seed000', received_at: receivedAt,
        payload: { user_id: user, item_id: `item_${Math.floor(random() * ITEMS)}`, session_id: `sess_${user}`, client_attempt_id: id, correct: random() < 0.7, quality: i % 6, time_taken_ms: 800 + Math.floor(random() * 30_000), hints_used: 0, device_type: 'web', app_version: '2.1.0' },
      };
    } else if (r < 0.7) {
      const id = `ses_${i}`;
      envelope = {
        v: 1, event_id: id, id_assigned: false, event_type: 'session', source: 'seed000', received_at: receivedAt,
        payload: { session_id: id, user_id: user, start_time: new Date(receivedAt - 600_000).toISOString(), end_time: new Date(receivedAt).toISOString(), items_attempted: 12, correct_count: 8, total_time_ms: 600_000, session_type: 'practice' },
      };
    } else {
      const id = `prod_${i}`;
      envelope = {
        v: 1, event_id: id, id_assigned: false, event_type: 'product', source: 'product', received_at: receivedAt,
        payload: { event_id: id, event_name: ['product_view', 'click', 'purchase'][i % 3], channel: ['web', 'mobile', 'api', 'email', 'push'][i % 5], campaign_id: 'summer_sale_2024', user_id: user, timestamp: receivedAt, tags: ['electronics'], metadata: { product_id: `SKU-${i % 1000}` } },
      };
    }
    out.push({ topic: 'events.raw', key: Buffer.from(user), value: Buffer.from(JSON.stringify(envelope)), timestamp: receivedAt });
  }
  return out;
}

/** The modules a run needs, from one source tree. */
interface Tree {
  root: string;
  openEmbeddedLog: typeof import('../log/embedded/index.js').openEmbeddedLog;
  buildDefaultPipeline: typeof import('../processors/DefaultPipeline.js').buildDefaultPipeline;
  ensurePipelineTopics: typeof import('../processors/DefaultPipeline.js').ensurePipelineTopics;
  readPipelineConfig: typeof import('../processors/PipelineConfig.js').readPipelineConfig;
  loadReferenceData: typeof import('../processors/ReferenceData.js').loadReferenceData;
  StreamsApp: typeof import('../topology/index.js').StreamsApp;
  StreamsBuilder: typeof import('../topology/index.js').StreamsBuilder;
  DEFAULT_AGGREGATORS: typeof import('../processors/AggregationSpecs.js').DEFAULT_AGGREGATORS;
}

async function loadTree(root: string): Promise<Tree> {
  const load = (file: string) => import(pathToFileURL(path.join(root, file)).href);
  const [embedded, pipeline, config, reference, topology, specs] = await Promise.all([
    load('log/embedded/index.ts'),
    load('processors/DefaultPipeline.ts'),
    load('processors/PipelineConfig.ts'),
    load('processors/ReferenceData.ts'),
    load('topology/index.ts'),
    load('processors/AggregationSpecs.ts'),
  ]);
  return { root, ...embedded, ...pipeline, ...config, ...reference, ...topology, DEFAULT_AGGREGATORS: specs.DEFAULT_AGGREGATORS } as Tree;
}

interface RunResult {
  variant: string;
  seconds: number;
  eventsPerSecond: number;
  cpuMicrosPerEvent: number;
  stringifyPerEvent?: number;
  threadMicrosPerEvent?: Record<string, number>;
  recordsPerEvent?: Record<string, number>;
  parsePerEvent?: number;
  loadavg1: number[];
}

async function runOnce(tree: Tree, variant: string, records: ProducerRecord[]): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pipeline-topology-'));
  const log = await tree.openEmbeddedLog({ dir: `${dir}/log` });
  const config = tree.readPipelineConfig({});
  await tree.ensurePipelineTopics(log, config, PARTITIONS);
  await tree.loadReferenceData(
    log,
    'users',
    Array.from({ length: USERS }, (_, i) => ({ user_id: `user_${i}`, type: i % 5 === 0 ? 'premium' : 'free', ...zones[i % 4], jurisdiction: zones[i % 4]!.country, average_accuracy: 0.6, skill_level: (i % 10) / 10, created_at: '2025-06-01T00:00:00Z' })),
    { partitions: PARTITIONS, timestamp: 0 },
  );
  await tree.loadReferenceData(log, 'items', Array.from({ length: ITEMS }, (_, i) => ({ item_id: `item_${i}`, difficulty: (i % 10) / 10, average_accuracy: 0.5 + (i % 5) / 10 })), { timestamp: 0 });
  for (let i = 0; i < records.length; i += 5000) await log.produce(records.slice(i, i + 5000));

  const builder = new tree.StreamsBuilder();
  const pipeline = tree.buildDefaultPipeline(builder, config, { aggregators: aggregatorsOf(tree) });
  const app = new tree.StreamsApp(builder.build(), log, { applicationId: APP_ID, stateDir: `${dir}/state`, dlqTopic: config.dlqTopic, commitIntervalMs: COMMIT_INTERVAL_MS });
  const inputs: TopicPartition[] = [];
  for (const topic of [config.landingTopic, ...pipeline.aggregations.filter((h) => h.spec.keyOf).map((h) => `${APP_ID}-${h.spec.name}-by-key-repartition`)]) {
    for (let partition = 0; partition < PARTITIONS; partition++) inputs.push({ topic, partition });
  }
  /** Every input committed to its end: landing is done and so is everything it fanned out to. */
  const caughtUp = async (): Promise<boolean> => {
    const committed = await log.committedOffsets(APP_ID, inputs);
    let landing = 0;
    for (const tp of inputs) {
      const at = committed.get(`${tp.topic}:${tp.partition}`) ?? 0;
      if (tp.topic === config.landingTopic) landing += at;
      else if (at < (await log.endOffset(tp))) return false;
    }
    return landing >= records.length;
  };

  const counting = process.env.BENCH_COUNT_JSON === '1';
  const restoreJson = counting ? countJsonCalls() : () => undefined;
  const ticksBefore = threadTicks();
  const loadBefore = os.loadavg();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    let checking = false;
    app.on('commit', () => {
      if (checking) return;
      checking = true;
      void caughtUp().then((yes) => {
        checking = false;
        if (yes) resolve();
      });
    });
  });
  await app.start();
  await done;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const ticksAfter = threadTicks();
  restoreJson();
  const loadAfter = os.loadavg();
  // BENCH_COUNT_RECORDS=1: records written per input event, by kind of topic (deterministic, so
  // a change that writes fewer changelog or repartition records shows exactly how many fewer).
  let recordsPerEvent: Record<string, number> | undefined;
  if (process.env.BENCH_COUNT_RECORDS === '1') {
    const byKind: Record<string, number> = {};
    for (const topic of await log.listTopics()) {
      if (topic === config.landingTopic || topic.startsWith('ref.')) continue;
      const kind = topic.endsWith('-changelog') ? (topic.includes('-pending-') ? 'pending-changelog' : 'changelog') : topic.endsWith('-repartition') ? 'repartition' : 'output';
      for (let partition = 0; partition < (await log.partitionCount(topic)); partition++) byKind[kind] = (byKind[kind] ?? 0) + (await log.endOffset({ topic, partition }));
    }
    recordsPerEvent = Object.fromEntries(Object.entries(byKind).map(([kind, count]) => [kind, Number((count / records.length).toFixed(3))]));
  }
  await app.close();
  pipeline.close();
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const n = records.length;
  return {
    variant,
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(n / seconds),
    // user + system of the whole process (RocksDB's background threads included).
    cpuMicrosPerEvent: Number(((cpu.user + cpu.system) / n).toFixed(1)),
    ...(recordsPerEvent ? { recordsPerEvent } : {}),
    ...(counting ? { stringifyPerEvent: Number((jsonCalls.stringify / n).toFixed(2)), parsePerEvent: Number((jsonCalls.parse / n).toFixed(2)) } : {}),
    // µs per event by thread (clock ticks of 10 ms, so coarse for short runs): main thread vs RocksDB/libuv workers.
    threadMicrosPerEvent: Object.fromEntries([...ticksAfter].map(([name, t]) => [name, Math.round(((t - (ticksBefore.get(name) ?? 0)) * 10_000) / n)]).filter(([, us]) => (us as number) > 0)),
    loadavg1: [Number(loadBefore[0]!.toFixed(2)), Number(loadAfter[0]!.toFixed(2))],
  };
}

/** user+system CPU ticks per thread name (/proc/self/task/<tid>/stat), to split the main thread from RocksDB's and libuv's. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = tid === String(process.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, close).replace(/[0-9]+$/, '').trim();
      const fields = stat.slice(close + 2).split(' ');
      out.set(comm, (out.get(comm) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

const records = landingRecords();
if (!AB) {
  const tree = await loadTree(path.resolve(path.dirname(new URL(import.meta.url).pathname), '..'));
  console.log(JSON.stringify({ scenario: 'pipeline-topology', events: EVENTS, aggregators: AGGREGATORS, commitIntervalMs: COMMIT_INTERVAL_MS, ...(await runOnce(tree, process.env.BENCH_VARIANT ?? '', records)) }));
} else {
  const a = await loadTree(path.resolve(AB.a));
  const b = await loadTree(path.resolve(AB.b));
  // A warm-up run of each: JIT and module initialisation out of the measured rounds.
  await runOnce(a, 'A-warmup', records.slice(0, 5000));
  await runOnce(b, 'B-warmup', records.slice(0, 5000));
  const ratios: number[] = [];
  for (let round = 1; round <= AB.rounds; round++) {
    // Alternate which goes first, so neither always runs after the other's garbage.
    const [first, second] = round % 2 === 1 ? [['A', a], ['B', b]] as const : [['B', b], ['A', a]] as const;
    const r1 = await runOnce(first[1], `${first[0]}-r${round}`, records);
    const r2 = await runOnce(second[1], `${second[0]}-r${round}`, records);
    for (const r of [r1, r2]) console.log(JSON.stringify({ scenario: 'pipeline-topology', events: EVENTS, ...r }));
    const [ra, rb] = first[0] === 'A' ? [r1, r2] : [r2, r1];
    ratios.push(rb.cpuMicrosPerEvent / ra.cpuMicrosPerEvent);
  }
  console.log(JSON.stringify({ a: AB.a, b: AB.b, rounds: AB.rounds, commitIntervalMs: COMMIT_INTERVAL_MS, cpuRatioBOverA: { median: Number(median(ratios).toFixed(3)), all: ratios.map((r) => Number(r.toFixed(3))) } }));
}
