import fs from 'node:fs';
import path from 'node:path';
import { analyticsStoreConfigFromEnv, openAnalyticsStore } from '../../sink/OpenAnalyticsStore.js';
import { sinkSettingsFromEnv } from '../../sink/SinkConfig.js';
import { cutSinkTables, truncateSinkTables, type RebuildResult } from '../../sink/TableRebuild.js';
import { appConfig, CliError, type CliContext, type Command, confirm, parseCommand, withLog } from './cli-support.js';
import { defaultTopology } from './describe.js';
import { EmbeddedLogAdmin, KafkaLogAdmin, type LogAdmin } from './log-admin.js';
import { parseFrom, planReprocess, type ReprocessPlan } from './reprocess-plan.js';
import type { Env } from '../../config/index.js';

const USAGE = 'streamline reprocess --from earliest|<ISO time> [--yes] [--dry-run] [--data-dir <dir>]';

const iso = (ms: number | undefined) => (ms === undefined ? 'no records' : new Date(ms).toISOString());

function describePlan(plan: ReprocessPlan, from: string): string[] {
  const lines = [`reprocess "${plan.applicationId}" from ${from}:`];
  for (const reach of plan.reach) lines.push(`  input ${reach.topic}: ${reach.records} retained records, oldest ${iso(reach.oldestMs)}`);
  const starts = new Map<string, number>();
  for (const o of plan.sourceOffsets) starts.set(o.topic, (starts.get(o.topic) ?? 0) + 1);
  lines.push(`  reset group "${plan.applicationId}" on ${plan.sourceOffsets.length} input partitions (${[...starts.keys()].join(', ') || 'none'})`);
  lines.push(`  delete ${plan.internalTopics.length} internal topics${plan.internalTopics.length ? `: ${plan.internalTopics.join(', ')}` : ''}`);
  lines.push(`  delete the local state stores`);
  lines.push(`  move the sink group "${plan.sinkGroupId}" past what it wrote (${plan.sinkOffsets.map((o) => `${o.topic}:${o.partition}@${o.offset}`).join(' ') || 'nothing yet'})`);
  lines.push(`  rebuild the ClickHouse tables ${plan.tables.join(', ')} (and event_metrics_hourly, sink_batches)`);
  return lines;
}

async function openAdmin(env: Env, mode: 'embedded' | 'kafka'): Promise<LogAdmin> {
  const config = appConfig(env);
  return mode === 'kafka' ? KafkaLogAdmin.open(env) : EmbeddedLogAdmin.open(config);
}

/**
 * streamline reprocess: Kafka Streams' application reset tool, made safe for the ClickHouse sink.
 * With the service stopped: the application's group starts its input topics again (earliest, or
 * the first record at a time), its internal topics and local stores are deleted, the sink's group
 * is moved past the outputs it already wrote, and the rows those outputs made are removed. The
 * next start processes the retained history once more and the tables end as a from-scratch run
 * would leave them. Reads the log first (a plan, printed), then changes it.
 */
export const reprocessCommand: Command = async (args, context: CliContext) => {
  const { values, env } = parseCommand(args, { from: { type: 'string' }, yes: { type: 'boolean', short: 'y' }, 'dry-run': { type: 'boolean' } }, context, USAGE);
  if (values.from === undefined) throw new CliError(`--from is required; usage: ${USAGE}`, 2);
  const from = parseFrom(values.from);
  const config = appConfig(env);
  const sinkGroupId = sinkSettingsFromEnv(env).groupId;
  const topology = defaultTopology(env);

  // Phase 1, read only. Embedded: opening the log proves the service is stopped (RocksDB lock).
  const plan = await withLog(env, (log) => planReprocess(log, { env, applicationId: config.applicationId, sinkGroupId, topology, from }));
  const fromText = from.kind === 'earliest' ? 'the earliest retained record' : new Date(from.ms).toISOString();
  for (const line of describePlan(plan, fromText)) context.out(line);
  if (from.kind === 'time') {
    for (const reach of plan.reach) {
      if (reach.oldestMs !== undefined && reach.oldestMs > from.ms) context.out(`  note: ${reach.topic} keeps nothing before ${iso(reach.oldestMs)}; the reprocess starts there`);
    }
    context.out('  note: windows that contain the --from time are recounted from that time only (their state is deleted); see docs/REPROCESSING.md');
  }
  if (values['dry-run']) return;

  const admin = await openAdmin(env, config.logMode);
  try {
    for (const group of [config.applicationId, sinkGroupId]) {
      const members = await admin.activeMembers(group);
      if (members > 0) throw new CliError(`group "${group}" has ${members} active member(s): stop every streamline instance of "${config.applicationId}" first`);
    }
    if (!values.yes) {
      if (!context.interactive) throw new CliError('reprocess changes offsets, topics, state and tables; confirm with --yes (no terminal to ask on)');
      if (!(await confirm(context, 'Go ahead?'))) throw new CliError('reprocess cancelled; nothing was changed');
    }
    // Sink first: if anything below fails, running the command again redoes it all (each step is idempotent).
    await admin.replaceCommitted(sinkGroupId, plan.sinkOffsets);
    await admin.deleteTopics(plan.internalTopics);
    await admin.replaceCommitted(config.applicationId, plan.sourceOffsets);
  } finally {
    await admin.close();
  }
  const stateDir = path.join(config.dataDir, 'state', config.applicationId);
  fs.rmSync(stateDir, { recursive: true, force: true });

  const store = await openAnalyticsStore(analyticsStoreConfigFromEnv(env, config.dataDir).config).catch((error: unknown) => {
    throw new CliError(`offsets, topics and state are reset, but the analytics store did not open (${(error as Error).message}); run the same command again before starting the service`);
  });
  let result: RebuildResult;
  try {
    result = from.kind === 'earliest' ? await truncateSinkTables(store, plan.tables) : await cutSinkTables(store, plan.tables, plan.cuts, from.ms);
  } finally {
    await store.close();
  }
  const rows = Object.keys(result.before).map((table) => `${table} ${result.before[table]} -> ${result.after[table]}`);
  context.out(`done: ${plan.internalTopics.length} internal topics deleted, local state deleted, rows ${rows.join(', ')}`);
  context.out('start the service: it processes the retained history again and writes each table once');
};
