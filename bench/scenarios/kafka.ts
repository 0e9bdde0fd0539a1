/**
 * The kafka group (issue 7): everything on a real Apache Kafka 4.1.1 broker, our own unless
 * BENCH_KAFKA_BROKERS names one (bench/lib/BenchBroker.ts).
 *
 * 1. Topology, ours vs Kafka Streams 4.1.1 (bench/kafka-topology.ts vs bench/peer/): the same
 *    dedupe by id + tumbling 1-minute count, exactly-once (v2), commit interval 100 ms, one
 *    process each, at each stream thread count of BENCH_KAFKA_THREADS (default "1,2"; issue 13):
 *    ours runs that many StreamsApps (one per worker thread beyond 1, one consumer group), the
 *    peer num.stream.threads. Ours and the peer run one after the other, interleaved: at the
 *    first thread count ours first, at the second the peer first (and so on), so neither always
 *    gets the quieter slot of a loaded machine. Each row says its thread count and the 1-minute
 *    load average; ours' notes give ours/peer at the same count.
 *    - throughput: N events (BENCH_KAFKA_EVENTS, default 200k; 4 partitions, keyed by user, 5 %
 *      re-sent ids) are in one fresh landing topic before the first contender starts (every run
 *      reads the same records with its own group); events/s =
 *      events committed / time, from the first commit the bench sees (polling the group's
 *      committed offsets every 100 ms) until the committed input offsets cover all N, so JVM and
 *      module start-up are not counted (both are reported in the note). The deduped output is
 *      then read back read_committed and must hold exactly the distinct ids.
 *    - latency: BENCH_KAFKA_LATENCY_EPS (default 3k) events/s, each stamped with its produce
 *      time: a warm-up at that rate until the output has caught up (at most 30 s), then 15 s
 *      measured; the bench reads the output topic read_committed and takes read time - produce
 *      time of every event sent in the measured window.
 * 2. The full pipeline (bench/service/serve.ts pipeline, all roles) with KAFKA_BROKERS set:
 *    the same steady and capacity phases as the pipeline group (scenarios/pipeline.ts). The
 *    steady rate is BENCH_KAFKA_STEADY_EPS, default 1k events/s: at the embedded 5k/s the Kafka
 *    pipeline fell behind (1.4k/s end to end, load average ~11), so the steady row measured a
 *    growing backlog and the capacity phase's events queued behind it (0 queryable). The
 *    capacity phase's drain is 30 s. BENCH_KAFKA_PIPELINE=off leaves this part out (the
 *    topology rows alone).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readKafkaConfig } from '../../log/kafka/KafkaConfig.js';
import { openKafkaLog } from '../../log/kafka/KafkaLog.js';
import type { Log } from '../../log/Log.js';
import { startBenchBroker } from '../lib/BenchBroker.js';
import { OutputReader, partitionsOf, preload, produceSteady, type LandingEvent } from '../lib/KafkaLoad.js';
import { Percentiles } from '../lib/Percentiles.js';
import type { BenchContext, Row, Scenario } from '../lib/Scenario.js';
import { ensurePeerJar, startContender, type ContenderName, type RunningContender } from '../lib/StreamsContender.js';
import { pipelinePhases } from './pipeline.js';

const EVENTS = Number(process.env.BENCH_KAFKA_EVENTS ?? 200_000);
const LATENCY_EPS = Number(process.env.BENCH_KAFKA_LATENCY_EPS ?? 3_000);
const PARTITIONS = 4;
const COMMIT_INTERVAL_MS = 100;
const TOPOLOGY_TARGET = 30_000;
const THREAD_COUNTS = (process.env.BENCH_KAFKA_THREADS ?? '1,2').split(',').map((value) => {
  const threads = Number(value.trim());
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`BENCH_KAFKA_THREADS=${process.env.BENCH_KAFKA_THREADS}: thread counts >= 1, comma separated`);
  return threads;
});
/** Issue 13: ahead of the peer at equal thread counts, aiming for 1.2x. */
const AIM_RATIO = 1.2;
const CONTENDERS: ContenderName[] = ['ours', 'peer'];
const LABEL: Record<ContenderName, string> = { ours: 'ours (DSL + StreamsApp on KafkaLog)', peer: 'Kafka Streams 4.1.1 peer' };
const ROUTE = 'landing topic -> dedupe (RocksDB KV) -> deduped topic + 1-min window count, EOS v2';

interface Throughput {
  eventsPerSecond: number;
  wallEventsPerSecond: number;
  startSeconds: number;
  processSeconds: number;
  cpuPercent: number;
  peakRssMb: number;
  outputRecords: number;
  expected: number;
  loadAverage1m: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const threadLabel = (threads: number) => `${threads} thread${threads === 1 ? '' : 's'}`;
const loadAverage = () => os.loadavg()[0].toFixed(1);
const logFile = (context: BenchContext, name: ContenderName, threads: number) => path.join(context.resultsDir, `kafka-${name}-t${threads}.log`);

/** Round n of the thread sweep: ours first on even rounds, the peer first on odd ones (the other way round with BENCH_KAFKA_ORDER=peer-first). */
function contendersInOrder(peerError: string | undefined, round: number): ContenderName[] {
  if (peerError) return ['ours'];
  const oursFirst = (round % 2 === 0) !== (process.env.BENCH_KAFKA_ORDER === 'peer-first');
  return oursFirst ? ['ours', 'peer'] : ['peer', 'ours'];
}

/** Events per CPU-second of the contender's process (all its threads) over the measured window. */
const perCpuSecond = (r: Throughput) => (r.cpuPercent > 0 ? Math.round((r.eventsPerSecond * 100) / r.cpuPercent) : 0);

function stateDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-bench-streams-'));
}

async function committedSum(log: Log, groupId: string, topic: string): Promise<number> {
  const committed = await log.committedOffsets(groupId, partitionsOf(topic, PARTITIONS));
  return [...committed.values()].reduce((a, b) => a + b, 0);
}

async function withContender<T>(name: ContenderName, settings: Parameters<typeof startContender>[1], body: (contender: RunningContender) => Promise<T>): Promise<T> {
  const contender = startContender(name, settings);
  try {
    return await body(contender);
  } finally {
    await contender.stop();
    fs.rmSync(settings.stateDir, { recursive: true, force: true });
  }
}

async function throughput(context: BenchContext, log: Log, brokers: string, name: ContenderName, threads: number, run: string, input: string, events: number, distinct: number): Promise<Throughput> {
  const output = `bench-${run}-${name}-t${threads}-deduped`;
  await log.ensureTopic(output, { partitions: PARTITIONS });
  const applicationId = `bench-${run}-${name}-t${threads}-throughput`;
  const settings = { bootstrap: brokers, input, output, applicationId, stateDir: stateDir(), commitIntervalMs: COMMIT_INTERVAL_MS, threads, logFile: logFile(context, name, threads) };
  return withContender(name, settings, async (contender) => {
    const spawnedAt = performance.now();
    const timeoutAt = spawnedAt + Math.max(120_000, (events / 2_000) * 1000);
    let first: { at: number; committed: number; cpu: number } | undefined;
    let doneAt = 0;
    let cpuAtDone = 0;
    while (performance.now() < timeoutAt) {
      if (!contender.alive) throw new Error(`${name} exited while processing (see ${settings.logFile})`);
      const committed = await committedSum(log, applicationId, input);
      const at = performance.now();
      if (!first && committed > 0) first = { at, committed, cpu: contender.usage().cpuSeconds };
      if (committed >= events) {
        doneAt = at;
        cpuAtDone = contender.usage().cpuSeconds;
        break;
      }
      await sleep(100);
    }
    if (!first || doneAt === 0) throw new Error(`${name} did not commit all ${events} input events within ${((timeoutAt - spawnedAt) / 1000).toFixed(0)} s`);
    const processSeconds = (doneAt - first.at) / 1000;
    // The deduped output, read back as a read_committed consumer would: exactly the distinct ids.
    const reader = new OutputReader(log, output, PARTITIONS);
    await reader.waitFor(distinct, 30_000);
    await sleep(500); // anything beyond `distinct` (duplicates let through) shows up too
    await reader.stop();
    const usage = contender.usage();
    const result: Throughput = {
      eventsPerSecond: Math.round((events - first.committed) / processSeconds),
      wallEventsPerSecond: Math.round(events / ((doneAt - spawnedAt) / 1000)),
      startSeconds: Number(((first.at - spawnedAt) / 1000).toFixed(1)),
      processSeconds: Number(processSeconds.toFixed(2)),
      cpuPercent: Math.round((100 * (cpuAtDone - first.cpu)) / processSeconds),
      peakRssMb: usage.peakRssMb,
      outputRecords: reader.count,
      expected: distinct,
      loadAverage1m: Number(loadAverage()),
    };
    context.log(
      `kafka: ${name} ${threads}t throughput ${result.eventsPerSecond} events/s (${result.processSeconds} s after the first commit at ${result.startSeconds} s; CPU ${result.cpuPercent} %; load ${loadAverage()}); output ${reader.count}/${distinct}`,
    );
    return result;
  });
}

async function latency(context: BenchContext, log: Log, brokers: string, name: ContenderName, threads: number, run: string): Promise<Row> {
  const input = `bench-${run}-${name}-t${threads}-lat-landing`;
  const output = `bench-${run}-${name}-t${threads}-lat-deduped`;
  await log.ensureTopic(input, { partitions: PARTITIONS });
  await log.ensureTopic(output, { partitions: PARTITIONS });
  const applicationId = `bench-${run}-${name}-t${threads}-latency`;
  const settings = { bootstrap: brokers, input, output, applicationId, stateDir: stateDir(), commitIntervalMs: COMMIT_INTERVAL_MS, threads, logFile: logFile(context, name, threads) };
  const warmupCapMs = 30_000;
  const measureMs = Math.max(3_000, Math.round(15_000 * context.scale));
  return withContender(name, settings, async (contender) => {
    await contender.waitRunning(90_000);
    const latencies = new Percentiles();
    let measureFrom = Infinity;
    const reader = new OutputReader(log, output, PARTITIONS, (value, readAt) => {
      const event = JSON.parse(value!.toString('utf8')) as LandingEvent;
      if (event.sentAt !== undefined && event.sentAt >= measureFrom) latencies.add(readAt - event.sentAt);
    });
    try {
      // Warm-up at the same rate until the output has caught up with the input (less than 1 s
      // of events behind, twice in a row): "running" comes seconds before the first output
      // (group join, changelog topics, transactions, and with 2 threads the rebalance as the
      // second member joins), and that backlog is not steady-state latency.
      const warmStarted = performance.now();
      let warm = 0;
      let caughtUp = 0;
      while (caughtUp < 2 && performance.now() - warmStarted < warmupCapMs) {
        warm += await produceSteady(log, input, LATENCY_EPS, 1_000, warm);
        caughtUp = reader.count >= warm - LATENCY_EPS ? caughtUp + 1 : 0;
      }
      const warmupMs = Math.round(performance.now() - warmStarted);
      measureFrom = Date.now();
      const cpuBefore = contender.usage().cpuSeconds;
      const measuredAt = performance.now();
      const sent = await produceSteady(log, input, LATENCY_EPS, measureMs, warm);
      const all = await reader.waitFor(warm + sent, 20_000);
      const cpuPercent = Math.round((100 * (contender.usage().cpuSeconds - cpuBefore)) / ((performance.now() - measuredAt) / 1000));
      const l = latencies.summary();
      const missing = sent - latencies.size;
      context.log(`kafka: ${name} ${threads}t latency at ${LATENCY_EPS}/s: p50 ${l.p50} / p95 ${l.p95} / p99 ${l.p99} / max ${l.max} ms (${latencies.size}/${sent} seen; load ${loadAverage()})`);
      return {
        scenario: `kafka topology latency ${LATENCY_EPS / 1000}k/s, ${threadLabel(threads)}: ${LABEL[name]}`,
        route: ROUTE,
        eventsPerSecond: Math.round(sent / (measureMs / 1000)),
        p50Ms: l.p50,
        p95Ms: l.p95,
        p99Ms: l.p99,
        serviceCpuPercent: cpuPercent,
        servicePeakRssMb: contender.usage().peakRssMb,
        note: `${sent} events at ${LATENCY_EPS}/s for ${measureMs / 1000} s after ${(warmupMs / 1000).toFixed(1)} s warm-up (${caughtUp >= 2 ? 'caught up' : 'NOT caught up: latency includes the start-up backlog'}); produce -> deduped topic read_committed; max ${l.max} ms${all ? '' : `; ${missing} not read within 20 s`}; load ${loadAverage()}`,
        detail: { threads, sent, seen: latencies.size, latencyMs: l, warmupEvents: warm, warmupMs, caughtUp: caughtUp >= 2, loadAverage1m: os.loadavg()[0] },
      };
    } finally {
      await reader.stop();
    }
  });
}

function throughputRow(name: ContenderName, threads: number, events: number, r: Throughput, peer: Throughput | undefined, peerError: string | undefined): Row {
  const exact = r.outputRecords === r.expected;
  const ratio = name === 'ours' && peer ? r.eventsPerSecond / peer.eventsPerSecond : undefined;
  // On a loaded machine the share of the 2 cores a process gets moves the events/s; per CPU-second it does less.
  const cpuRatio = name === 'ours' && peer && perCpuSecond(peer) > 0 ? perCpuSecond(r) / perCpuSecond(peer) : undefined;
  return {
    scenario: `kafka topology throughput, ${threadLabel(threads)}: ${LABEL[name]}`,
    route: ROUTE,
    eventsPerSecond: r.eventsPerSecond,
    serviceCpuPercent: r.cpuPercent,
    servicePeakRssMb: r.peakRssMb,
    ...(name === 'ours'
      ? {
          target: `>= ${TOPOLOGY_TARGET / 1000}k events/s and >= ${AIM_RATIO}x the peer at ${threadLabel(threads)}`,
          met: r.eventsPerSecond >= TOPOLOGY_TARGET && ratio !== undefined && ratio >= AIM_RATIO && exact,
        }
      : {}),
    note:
      `${events} events, 4 partitions; ${r.processSeconds} s from the first commit (seen ${r.startSeconds} s after the process started) to all committed; ` +
      `load ${r.loadAverage1m}; ${r.wallEventsPerSecond} events/s counting start-up; ${perCpuSecond(r)} events per CPU-second; output ${r.outputRecords} records for ${r.expected} distinct ids${exact ? '' : ' (MISMATCH)'}` +
      (ratio !== undefined ? `; ours/peer = ${ratio.toFixed(2)}` : '') +
      (cpuRatio !== undefined ? ` (per CPU-second ${cpuRatio.toFixed(2)})` : '') +
      (name === 'ours' && peerError ? `; peer not run: ${peerError}` : ''),
    detail: { threads, ...r, eventsPerCpuSecond: perCpuSecond(r), ratioOursToPeer: ratio, perCpuSecondRatioOursToPeer: cpuRatio, loadAverage1m: r.loadAverage1m },
  };
}

/** Ours vs the peer's p99 at the same thread count, on our latency row. */
function compareLatency(ours: Row, peer: Row | undefined): Row {
  if (ours.p99Ms === undefined || peer?.p99Ms === undefined) return ours;
  const ratio = ours.p99Ms / peer.p99Ms;
  return { ...ours, target: "p99 below the peer's at the same thread count", met: ratio < 1, note: `${ours.note}; p99 ours/peer = ${ratio.toFixed(2)}`, detail: { ...(ours.detail as object), p99RatioOursToPeer: ratio } };
}

async function topologyRows(context: BenchContext, brokers: string, peerError: string | undefined): Promise<Row[]> {
  const log = await openKafkaLog({ ...readKafkaConfig({ KAFKA_BROKERS: brokers })!, clientId: 'bench-driver' });
  const rows: Row[] = [];
  try {
    const run = Date.now().toString(36);
    const events = Math.max(20_000, Math.round(EVENTS * Math.min(1, context.scale * 4)));
    // One landing topic for every throughput run: each contender and thread count reads the
    // same records (its own consumer group from the earliest offset, its own output topic).
    const input = `bench-${run}-landing`;
    await log.ensureTopic(input, { partitions: PARTITIONS });
    const loaded = await preload(log, input, events);
    context.log(`kafka: ${events} landing events produced in ${loaded.seconds.toFixed(1)} s`);
    const rounds = THREAD_COUNTS.map((threads, n) => ({ threads, order: contendersInOrder(peerError, n) }));

    for (const { threads, order } of rounds) {
      const results: Partial<Record<ContenderName, Throughput>> = {};
      for (const name of order) {
        try {
          results[name] = await throughput(context, log, brokers, name, threads, run, input, events, loaded.distinct);
        } catch (error) {
          context.log(`kafka: ${name} ${threads}t throughput failed: ${(error as Error).message}`);
          rows.push({ scenario: `kafka topology throughput, ${threadLabel(threads)}: ${LABEL[name]}`, route: ROUTE, note: `failed: ${(error as Error).message}`, met: false });
        }
      }
      for (const name of CONTENDERS) {
        const r = results[name];
        if (r) rows.push(throughputRow(name, threads, events, r, results.peer, peerError));
      }
    }
    if (peerError) rows.push({ scenario: `kafka topology: ${LABEL.peer}`, route: ROUTE, note: `not run: ${peerError}`, met: false });

    for (const { threads, order } of rounds) {
      const results: Partial<Record<ContenderName, Row>> = {};
      for (const name of order) {
        try {
          results[name] = await latency(context, log, brokers, name, threads, run);
        } catch (error) {
          context.log(`kafka: ${name} ${threads}t latency failed: ${(error as Error).message}`);
          rows.push({ scenario: `kafka topology latency, ${threadLabel(threads)}: ${LABEL[name]}`, route: ROUTE, note: `failed: ${(error as Error).message}`, met: false });
        }
      }
      if (results.ours) rows.push(compareLatency(results.ours, results.peer));
      if (results.peer) rows.push(results.peer);
    }
  } finally {
    await log.close();
  }
  return rows;
}

export const kafkaScenario: Scenario = async (context) => {
  // The peer is built before the broker starts (the first build downloads from Maven Central).
  let peerError: string | undefined;
  try {
    await ensurePeerJar(context.log);
  } catch (error) {
    peerError = (error as Error).message.split('\n')[0];
    context.log(`kafka: no peer: ${(error as Error).message}`);
  }
  const broker = await startBenchBroker(context.log);
  try {
    const rows = await topologyRows(context, broker.brokers, peerError);
    if (process.env.BENCH_KAFKA_PIPELINE === 'off') return rows;
    context.log('kafka: full pipeline with KAFKA_BROKERS set');
    rows.push(
      ...(await pipelinePhases(context, {
        label: ' on Kafka',
        env: { KAFKA_BROKERS: broker.brokers, APPLICATION_ID: `bench-pipeline-${Date.now().toString(36)}` },
        logFile: path.join(context.resultsDir, 'service-pipeline-kafka.log'),
        cpuProfDir: context.profileDir ? path.join(context.profileDir, 'pipeline-kafka') : undefined,
        capacityTarget: TOPOLOGY_TARGET,
        capacityDrainSeconds: 30,
        steadyEventsPerSecond: Number(process.env.BENCH_KAFKA_STEADY_EPS ?? 1_000),
      })),
    );
    return rows;
  } finally {
    await broker.stop().catch((error: unknown) => context.log(`kafka: broker stop failed: ${(error as Error).message}`));
  }
};
