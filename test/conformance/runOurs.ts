import fs from 'node:fs';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import type { Log } from '../../log/Log.js';
import { partitionsOf, readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { scenarioNamed, type OutputRecord, type Run, type RunOutputs } from './runs.js';

const json = (value: unknown) => (value === null || value === undefined ? null : Buffer.from(JSON.stringify(value)));

const STALL_MS = 120_000;

/** How many records of the topics the group has committed past, over all their partitions. */
async function committedTotal(log: Log, topics: string[]): Promise<number> {
  let total = 0;
  for (const topic of topics) for (const offset of (await log.committedOffsets('conformance', await partitionsOf(log, topic))).values()) total += offset;
  return total;
}

/**
 * Waits until the app has processed everything produced, failing only when it stops making
 * progress: a phase of 300-odd runs takes seconds on a quiet machine but over two minutes on two
 * cores shared with other test suites (load 10-19 here), and slowness is not what the suite checks.
 */
async function untilCaughtUpOrStalled(app: StreamsApp, log: Log, topics: string[]): Promise<void> {
  for (let committed = await committedTotal(log, topics); ; ) {
    try {
      return await waitForCaughtUp(app, log, 'conformance', topics, STALL_MS);
    } catch (error) {
      const now = await committedTotal(log, topics);
      if (now === committed) throw new Error(`our side made no progress in ${STALL_MS} ms: ${(error as Error).message.slice(0, 500)}`);
      committed = now;
    }
  }
}

/**
 * Runs every run with our DSL on the embedded log, in one StreamsApp: each run gets its own
 * topics (r<index>-<name>, one partition each) and so its own tasks, stream time and stores.
 * Phase by phase: produce the phase of every run, then wait until the app processed it.
 */
export async function runOurs(runs: Run[]): Promise<RunOutputs> {
  const dir = tempDir('conformance');
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  try {
    const builder = new StreamsBuilder();
    const inputTopics = new Set<string>();
    const drained: string[] = [];
    const topicOf = (index: number) => (name: string) => `r${index}-${name}`;
    for (const [index, run] of runs.entries()) {
      const topic = topicOf(index);
      for (const phase of run.phases) for (const record of phase) inputTopics.add(topic(record.topic));
      for (const out of scenarioNamed(run.scenario).outputTopics) await log.ensureTopic(topic(out), { partitions: 1 });
      const internalBefore = builder.topology.allInternalTopics().length;
      scenarioNamed(run.scenario).build(builder, topic);
      if (scenarioNamed(run.scenario).drainInternalTopics) {
        for (const internal of builder.topology.allInternalTopics().slice(internalBefore)) drained.push(`conformance-${internal.name}`);
      }
    }
    for (const topic of inputTopics) await log.ensureTopic(topic, { partitions: 1 });
    const produce = async (phase: number) => {
      const records = runs.flatMap((run, index) =>
        (run.phases[phase] ?? []).map((r) => ({ topic: topicOf(index)(r.topic), key: r.key === null ? null : Buffer.from(r.key), value: json(r.value), timestamp: r.timestamp })),
      );
      if (records.length > 0) await log.produce(records);
    };
    await produce(0);
    const app = new StreamsApp(builder.build(), log, { applicationId: 'conformance', stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      const phases = Math.max(...runs.map((run) => run.phases.length));
      // Global tables' topics are read at start, not by the group: only the others are awaited.
      const awaited = [...[...inputTopics].filter((topic) => !runs.some((run, index) => run.phases[0]!.some((r) => topicOf(index)(r.topic) === topic))), ...drained];
      for (let phase = 1; phase < phases; phase++) {
        await produce(phase);
        await untilCaughtUpOrStalled(app, log, awaited);
      }
    } finally {
      await app.close();
    }
    const outputs: RunOutputs = new Map();
    for (const [index, run] of runs.entries()) {
      const byTopic: Record<string, OutputRecord[]> = {};
      for (const out of scenarioNamed(run.scenario).outputTopics) {
        byTopic[out] = (await readAll(log, topicOf(index)(out))).map((r) => ({
          key: r.key === null ? null : r.key.toString('utf8'),
          value: r.value === null ? null : (JSON.parse(r.value.toString('utf8')) as unknown),
          timestamp: r.timestamp,
        }));
      }
      outputs.set(run.id, byTopic);
    }
    return outputs;
  } finally {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
