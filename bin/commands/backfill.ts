import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { AppConfig } from '../../app/AppConfig.js';
import type { Env } from '../../config/index.js';
import type { Log, TopicPartition, TopicPartitionOffset } from '../../log/Log.js';
import { buildDefaultPipeline, type PipelineConfig } from '../../processors/index.js';
import { DEFAULT_AGGREGATORS, type AggregatorSpec } from '../../processors/AggregationSpecs.js';
import { aggregateStoreName } from '../../processors/WindowedAggregations.js';
import { RoutingTable } from '../../processors/RoutingRules.js';
import { StreamsApp, StreamsBuilder, type Topology } from '../../topology/index.js';
import { appConfig, CliError, type CliContext, type Command, confirm, openCliLog, parseCommand } from './cli-support.js';
import { defaultTopology } from './describe.js';
import { EmbeddedLogAdmin, KafkaLogAdmin, type LogAdmin } from './log-admin.js';
import { pipelineConfigFor } from './reprocess-plan.js';

const USAGE = 'streamline backfill --aggregator <name> [--yes] [--data-dir <dir>]';

export interface BackfillResult {
  /** Where the backfill stopped: the application group's committed landing offsets, where the service resumes. */
  upTo: TopicPartitionOffset[];
  records: number;
  /** Changelog records handed over to the application's new stores. */
  handedOver: number;
  stores: string[];
}

async function partitionsOf(log: Log, topic: string): Promise<TopicPartition[]> {
  return Array.from({ length: await log.partitionCount(topic) }, (_, partition) => ({ topic, partition }));
}

async function repartitionLag(log: Log, groupId: string): Promise<number> {
  let lag = 0;
  for (const topic of (await log.listTopics()).filter((t) => t.startsWith(`${groupId}-`) && t.endsWith('-repartition'))) {
    const tps = await partitionsOf(log, topic);
    const committed = await log.committedOffsets(groupId, tps);
    for (const tp of tps) {
      const at = committed.get(`${topic}:${tp.partition}`) ?? 0;
      const end = await log.endOffset(tp);
      // On Kafka the topic is written in transactions: its last offset can be a commit marker, never delivered.
      if (at < end && (await log.read(tp, at, 1)).some((record) => record.offset < end)) lag += end - at;
    }
  }
  return lag;
}

/** Keys whose latest changelog record is not a tombstone. */
export async function liveKeys(log: Log, topic: string): Promise<number> {
  if (!(await log.listTopics()).includes(topic)) return 0;
  const live = new Map<string, boolean>();
  for (const tp of await partitionsOf(log, topic)) {
    let offset = await log.beginningOffset(tp);
    const end = await log.endOffset(tp);
    while (offset < end) {
      const batch = await log.read(tp, offset, 2000);
      if (batch.length === 0) break;
      for (const r of batch) live.set(`${tp.partition}:${r.key?.toString('base64') ?? ''}`, r.value !== null);
      offset = batch[batch.length - 1]!.offset + 1;
    }
  }
  return [...live.values()].filter(Boolean).length;
}

/** The backfill's own pipeline: the default steps up to the filter, then only this aggregator; every other output into one discard topic. */
function backfillTopology(pipeline: PipelineConfig, spec: AggregatorSpec, discard: string): { topology: Topology; close: () => void } {
  const outputTopics = Object.fromEntries(Object.keys(pipeline.outputTopics).map((name) => [name, discard])) as unknown as PipelineConfig['outputTopics'];
  const config: PipelineConfig = { ...pipeline, cleanEventsTopic: discard, dlqTopic: discard, outputTopics, routeTopics: [discard] };
  const builder = new StreamsBuilder();
  const built = buildDefaultPipeline(builder, config, { aggregators: [spec], routes: new RoutingTable([], { allowedTopics: [] }), logger: pino({ level: 'silent' }) });
  return { topology: builder.build(), close: () => built.close() };
}

/**
 * Runs one new aggregator over the retained landing history under its own application id, up to
 * where the application's group stands, and hands its state over to the application (see
 * docs/REPROCESSING.md "Backfill one new aggregation"): its rows go to the aggregates topic (the
 * sink writes them at the next start), its store changelogs are copied into the application's
 * changelogs for the same stores, so the service restores the backfilled windows and continues
 * them. The service must be stopped and caught up, and must never have run the aggregator.
 */
export async function backfillAggregator(options: { env: Env; config: AppConfig; spec: AggregatorSpec; log: Log; timeoutMs?: number }): Promise<BackfillResult> {
  const { env, config, spec, log } = options;
  const pipeline = pipelineConfigFor(env);
  const appId = config.applicationId;
  const backfillId = `${appId}-backfill-${spec.name}`;
  const discard = `${backfillId}.discard`;

  const landing = await partitionsOf(log, pipeline.landingTopic);
  const committed = await log.committedOffsets(appId, landing);
  const upTo: TopicPartitionOffset[] = [];
  let lag = 0;
  let records = 0;
  for (const tp of landing) {
    const offset = committed.get(`${tp.topic}:${tp.partition}`) ?? 0;
    const end = await log.endOffset(tp);
    if (offset < end && (await log.read(tp, offset, 1)).some((record) => record.offset < end)) lag += end - offset;
    records += offset - (await log.beginningOffset(tp));
    upTo.push({ ...tp, offset });
  }
  if (lag > 0) {
    throw new CliError(
      `"${appId}" has ${lag} unprocessed landing records: the backfill hands over where the application stands, so start the previous version until it has caught up (and stop producers on Kafka) first`,
    );
  }
  const main = defaultTopology(env);
  const prefix = aggregateStoreName(spec.name);
  const stores = main.allStores().filter((store) => store.name === prefix || store.name.startsWith(`${prefix}-`));
  if (stores.length === 0) throw new CliError(`the deployed topology has no aggregator "${spec.name}": deploy the version that adds it, then backfill (with the service stopped)`);
  const existing = new Set(await log.listTopics());
  for (const store of stores) {
    const changelog = `${appId}-${store.name}-changelog`;
    if (existing.has(changelog)) throw new CliError(`${changelog} exists: "${spec.name}" already ran in "${appId}", so a backfill would count its events twice (use streamline reprocess instead)`);
  }

  const { topology, close } = backfillTopology(pipeline, spec, discard);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-backfill-'));
  const app = new StreamsApp(topology, log, { applicationId: backfillId, stateDir, dlqTopic: discard, commitIntervalMs: 200 });
  try {
    await log.ensureTopic(discard, { partitions: 1 });
    await app.start();
    const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
    for (;;) {
      const done = await log.committedOffsets(backfillId, landing);
      // Up to the application's offsets on the landing topic, and through everything the first
      // sub-topology wrote to the backfill's repartition topics (read by the aggregator's own).
      // Then until the buffered rows are out: no window left in the pending store (its emit deletes
      // the entries in the commit that writes the rows), so the rows are complete at the handover.
      if (upTo.every((o) => (done.get(`${o.topic}:${o.partition}`) ?? 0) >= o.offset) && (await repartitionLag(log, backfillId)) === 0 && (await liveKeys(log, `${backfillId}-${prefix}-pending-changelog`)) === 0) break;
      if (Date.now() > deadline) throw new CliError(`the backfill of "${spec.name}" did not reach the application's offsets in time`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await app.close();
    close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }

  // Handover: the backfill's changelogs become the application's for the same stores.
  let handedOver = 0;
  for (const store of stores) {
    const from = `${backfillId}-${store.name}-changelog`;
    const to = `${appId}-${store.name}-changelog`;
    if (store.loggingEnabled === false || !(await log.listTopics()).includes(from)) continue;
    const partitions = await log.partitionCount(from);
    await log.ensureTopic(to, { partitions, cleanupPolicy: store.changelogCleanupPolicy, retentionMs: store.changelogRetentionMs });
    for (let partition = 0; partition < partitions; partition++) {
      let offset = await log.beginningOffset({ topic: from, partition });
      const end = await log.endOffset({ topic: from, partition });
      while (offset < end) {
        const batch = await log.read({ topic: from, partition }, offset, 2000);
        if (batch.length === 0) break;
        await log.produce(batch.map((r) => ({ topic: to, partition, key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })));
        handedOver += batch.length;
        offset = batch[batch.length - 1]!.offset + 1;
      }
    }
  }
  return { upTo, records, handedOver, stores: stores.map((s) => s.name) };
}

async function openAdmin(env: Env, config: AppConfig): Promise<LogAdmin> {
  return config.logMode === 'kafka' ? KafkaLogAdmin.open(env) : EmbeddedLogAdmin.open(config);
}

/** streamline backfill --aggregator <name>: backfillAggregator, then the backfill's own topics deleted. */
export const backfillCommand: Command = async (args, context: CliContext) => {
  const { values, env } = parseCommand(args, { aggregator: { type: 'string' }, yes: { type: 'boolean', short: 'y' } }, context, USAGE);
  const name = values.aggregator;
  if (typeof name !== 'string') throw new CliError(`--aggregator is required; usage: ${USAGE}`, 2);
  const spec = DEFAULT_AGGREGATORS.find((s) => s.name === name);
  if (!spec) throw new CliError(`unknown aggregator "${name}"; known: ${DEFAULT_AGGREGATORS.map((s) => s.name).join(', ')}`, 2);
  const config = appConfig(env);
  if (config.logMode === 'kafka') {
    const admin = await openAdmin(env, config);
    try {
      const members = await admin.activeMembers(config.applicationId);
      if (members > 0) throw new CliError(`group "${config.applicationId}" has ${members} active member(s): stop the service first`);
    } finally {
      await admin.close();
    }
  }
  if (!values.yes) {
    if (!context.interactive) throw new CliError(`backfill runs "${name}" over the retained history; confirm with --yes (no terminal to ask on)`);
    if (!(await confirm(context, `Backfill "${name}" over the retained landing history?`))) throw new CliError('backfill cancelled');
  }
  const backfillId = `${config.applicationId}-backfill-${name}`;
  const { log } = await openCliLog(env);
  let result: BackfillResult;
  let leftovers: string[];
  try {
    result = await backfillAggregator({ env, config, spec, log });
    leftovers = (await log.listTopics()).filter((t) => t.startsWith(`${backfillId}-`) || t === `${backfillId}.discard`);
  } finally {
    await log.close();
  }
  // The backfill's internal topics and discard topic served their purpose (its state is handed over).
  const admin = await openAdmin(env, config);
  try {
    await admin.deleteTopics(leftovers);
    await admin.replaceCommitted(backfillId, []);
  } finally {
    await admin.close();
  }
  context.out(`backfilled "${name}" over ${result.records} landing records up to ${result.upTo.map((o) => `${o.partition}@${o.offset}`).join(' ')}; handed over ${result.handedOver} changelog records (${result.stores.join(', ')})`);
  context.out('start the service: the sink writes the new rows, and the aggregator continues from the handed-over state');
};
