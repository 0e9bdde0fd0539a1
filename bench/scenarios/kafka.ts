/**
 * The kafka group (issue 7): everything on a real Apache Kafka 4.1.1 broker, our own unless
 * BENCH_KAFKA_BROKERS names one (bench/lib/BenchBroker.ts).
 *
 * 1. Topology, ours vs Kafka Streams 4.1.1 (bench/kafka-topology.ts vs bench/peer/): the same
 *    dedupe by id + tumbling 1-minute count, exactly-once (v2), commit interval 100 ms, one
 *    process each, run one after the other.
 *    - throughput: N events (BENCH_KAFKA_EVENTS, default 200k; 4 partitions, keyed by user, 5 %
 *      re-sent ids) are in a fresh landing topic before the contender starts; events/s =
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
 *    capacity phase's drain is 30 s so the group stays within ~7 minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readKafkaConfig } from '../../log/kafka/kafka-config.js';
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
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

async function throughput(context: BenchContext, log: Log, brokers: string, name: ContenderName, run: string, events: number, distinct: number): Promise<Throughput> {
  const input = `bench-${run}-${name}-landing`;
  const output = `bench-${run}-${name}-deduped`;
  const applicationId = `bench-${run}-${name}-throughput`;
  const settings = { bootstrap: brokers, input, output, applicationId, stateDir: stateDir(), commitIntervalMs: COMMIT_INTERVAL_MS, logFile: path.join(context.resultsDir, `kafka-${name}.log`) };
  return withContender(name, settings, async (contender) => {
    const spawnedAt = performance.now();
    const timeoutAt = spawnedAt + Math.max(120_000, (events / 2_000) * 1000);
    let first: { at: number; committed: number; cpu: number } | undefined;
    let doneAt = 0;
    let cpuAtDone = 0;
    while (performance.now() < timeoutAt) {
      if (!contender.alive) throw new Error(`${name} exited while processing (see bench/results/kafka-${name}.log)`);
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
    };
    context.log(`kafka: ${name} throughput ${result.eventsPerSecond} events/s (${result.processSeconds} s after the first commit at ${result.startSeconds} s; CPU ${result.cpuPercent} %); output ${reader.count}/${distinct}`);
    return result;
  });
}

async function latency(context: BenchContext, log: Log, brokers: string, name: ContenderName, run: string): Promise<Row> {
  const input = `bench-${run}-${name}-lat-landing`;
  const output = `bench-${run}-${name}-lat-deduped`;
  await log.ensureTopic(input, { partitions: PARTITIONS });
  await log.ensureTopic(output, { partitions: PARTITIONS });
  const applicationId = `bench-${run}-${name}-latency`;
  const settings = { bootstrap: brokers, input, output, applicationId, stateDir: stateDir(), commitIntervalMs: COMMIT_INTERVAL_MS, logFile: path.join(context.resultsDir, `kafka-${name}.log`) };
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
      // (group join, changelog topics, transactions), and that backlog is not steady-state latency.
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
      context.log(`kafka: ${name} latency at ${LATENCY_EPS}/s: p50 ${l.p50} / p95 ${l.p95} / p99 ${l.p99} / max ${l.max} ms (${latencies.size}/${sent} seen)`);
      return {
        scenario: `kafka topology latency ${LATENCY_EPS / 1000}k/s: ${LABEL[name]}`,
        route: ROUTE,
        eventsPerSecond: Math.round(sent / (measureMs / 1000)),
        p50Ms: l.p50,
        p95Ms: l.p95,
        p99Ms: l.p99,
        serviceCpuPercent: cpuPercent,
        servicePeakRssMb: contender.usage().peakRssMb,
        note: `${sent} events at ${LATENCY_EPS}/s for ${measureMs / 1000} s after ${(warmupMs / 1000).toFixed(1)} s warm-up (${caughtUp >= 2 ? 'caught up' : 'NOT caught up: latency includes the start-up backlog'}); produce -> deduped topic read_committed; max ${l.max} ms${all ? '' : `; ${missing} not read within 20 s`}`,
        detail: { sent, seen: latencies.size, latencyMs: l, warmupEvents: warm, warmupMs, caughtUp: caughtUp >= 2 },
      };
    } finally {
      await reader.stop();
    }
  });
}

async function topologyRows(context: BenchContext, brokers: string, peerError: string | undefined): Promise<Row[]> {
  const log = await openKafkaLog({ ...readKafkaConfig({ KAFKA_BROKERS: brokers })!, clientId: 'bench-driver' });
  const rows: Row[] = [];
  try {
    const run = Date.now().toString(36);
    const events = Math.max(20_000, Math.round(EVENTS * Math.min(1, context.scale * 4)));
    const contenders: ContenderName[] = peerError ? ['ours'] : ['ours', 'peer'];
    let distinct = 0;
    for (const name of contenders) {
      await log.ensureTopic(`bench-${run}-${name}-landing`, { partitions: PARTITIONS });
      await log.ensureTopic(`bench-${run}-${name}-deduped`, { partitions: PARTITIONS });
      const loaded = await preload(log, `bench-${run}-${name}-landing`, events);
      distinct = loaded.distinct;
      context.log(`kafka: ${events} landing events for ${name} produced in ${loaded.seconds.toFixed(1)} s`);
    }
    const results: Partial<Record<ContenderName, Throughput>> = {};
    for (const name of contenders) {
      try {
        results[name] = await throughput(context, log, brokers, name, run, events, distinct);
      } catch (error) {
        context.log(`kafka: ${name} throughput failed: ${(error as Error).message}`);
        rows.push({ scenario: `kafka topology throughput: ${LABEL[name]}`, route: ROUTE, note: `failed: ${(error as Error).message}`, met: false });
      }
    }
    const ratio = results.ours && results.peer ? results.ours.eventsPerSecond / results.peer.eventsPerSecond : undefined;
    for (const name of contenders) {
      const r = results[name];
      if (!r) continue;
      const exact = r.outputRecords === r.expected;
      rows.push({
        scenario: `kafka topology throughput: ${LABEL[name]}`,
        route: ROUTE,
        eventsPerSecond: r.eventsPerSecond,
        serviceCpuPercent: r.cpuPercent,
        servicePeakRssMb: r.peakRssMb,
        ...(name === 'ours'
          ? { target: `>= ${TOPOLOGY_TARGET / 1000}k events/s and ahead of the peer`, met: r.eventsPerSecond >= TOPOLOGY_TARGET && (ratio === undefined || ratio >= 1) && exact }
          : {}),
        note:
          `${events} events, 4 partitions; ${r.processSeconds} s from the first commit (seen ${r.startSeconds} s after the process started) to all committed; ` +
          `${r.wallEventsPerSecond} events/s counting start-up; output ${r.outputRecords} records for ${r.expected} distinct ids${exact ? '' : ' (MISMATCH)'}` +
          (name === 'ours' && ratio !== undefined ? `; ours/peer = ${ratio.toFixed(2)}` : '') +
          (name === 'peer' && peerError ? `; ${peerError}` : ''),
        detail: { ...r, ratioOursToPeer: ratio },
      });
    }
    if (peerError) rows.push({ scenario: `kafka topology: ${LABEL.peer}`, route: ROUTE, note: `not run: ${peerError}`, met: false });
    for (const name of contenders) {
      try {
        rows.push(await latency(context, log, brokers, name, run));
      } catch (error) {
        context.log(`kafka: ${name} latency failed: ${(error as Error).message}`);
        rows.push({ scenario: `kafka topology latency: ${LABEL[name]}`, route: ROUTE, note: `failed: ${(error as Error).message}`, met: false });
      }
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
