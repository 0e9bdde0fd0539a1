import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, readList, type Env } from '../config/index.js';
import type { Log } from '../log/Log.js';
import type { RowMapper } from '../sink/RowMappers.js';
import type { StreamsBuilder } from '../topology/index.js';
import type { PipelineStreams } from './DefaultPipeline.js';
import type { PipelineConfig } from './PipelineConfig.js';

/**
 * What a PIPELINE_EXTENSIONS module's default export is: it receives the builder and the
 * default pipeline's named streams and adds nodes (docs/EXTENDING.md). Topics its sinks write
 * are created before the topology starts, with the landing topic's partition count; its stores'
 * changelogs and repartition topics are planned like the pipeline's own.
 */
export type PipelineExtension = (builder: StreamsBuilder, streams: PipelineStreams, context: { config: PipelineConfig; env: Env }) => void;

/**
 * A ClickHouse table an extension writes, declared beside its node: the sink reads `topic` into
 * `table` through `map` (sink/RowMappers.ts: a row, rows, or null to skip), and `create` makes the
 * table at the sink's start, after the migrations (its statements must be idempotent: IF NOT EXISTS).
 */
export interface ClickHouseTable {
  topic: string;
  table: string;
  /** CREATE statements for the analytics database (its name is passed in). */
  create: (database: string) => string[];
  map: RowMapper;
}

/** A loaded PIPELINE_EXTENSIONS module. */
export interface PipelineExtensionModule {
  /** The path as configured. */
  source: string;
  extend: PipelineExtension;
  clickhouse: ClickHouseTable[];
}

/**
 * PIPELINE_EXTENSIONS: comma-separated module paths (absolute, or relative to the working
 * directory), .js, or .ts when run through tsx. Each must default-export a PipelineExtension and
 * may export `clickhouse: ClickHouseTable[]`. Every thread that builds the topology or runs the
 * sink loads them (worker threads read the same env).
 */
export async function loadPipelineExtensions(env: Env, cwd = process.cwd()): Promise<PipelineExtensionModule[]> {
  const modules: PipelineExtensionModule[] = [];
  for (const source of readList(env, 'PIPELINE_EXTENSIONS', [])) {
    const file = path.resolve(cwd, source);
    let loaded: { default?: unknown; clickhouse?: unknown };
    try {
      loaded = (await import(pathToFileURL(file).href)) as typeof loaded;
    } catch (error) {
      throw new ConfigError(`PIPELINE_EXTENSIONS: cannot load ${source}: ${(error as Error).message ?? String(error)}`);
    }
    if (typeof loaded.default !== 'function') throw new ConfigError(`PIPELINE_EXTENSIONS: ${source} has no default export function (builder, streams) => void`);
    const clickhouse = loaded.clickhouse ?? [];
    if (!Array.isArray(clickhouse) || !clickhouse.every(isTable)) {
      throw new ConfigError(`PIPELINE_EXTENSIONS: ${source}'s "clickhouse" export must be an array of { topic, table, create(database), map }`);
    }
    modules.push({ source, extend: loaded.default as PipelineExtension, clickhouse });
  }
  return modules;
}

function isTable(value: unknown): value is ClickHouseTable {
  const table = value as Partial<ClickHouseTable> | null;
  return !!table && typeof table.topic === 'string' && typeof table.table === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(table.table) && typeof table.create === 'function' && typeof table.map === 'function';
}

/**
 * Runs each extension on the builder (once: a second run would add its nodes again). Returns
 * the topics their sinks write that the topology did not write before: ensureExtensionTopics()
 * creates them.
 */
export function applyPipelineExtensions(modules: PipelineExtensionModule[], builder: StreamsBuilder, streams: PipelineStreams, context: { config: PipelineConfig; env: Env }): string[] {
  const before = new Set(sinkTopics(builder));
  for (const module of modules) module.extend(builder, streams, context);
  return sinkTopics(builder).filter((topic) => !before.has(topic));
}

/** Creates the extensions' output topics like the pipeline's outputs: the landing topic's partition count. */
export async function ensureExtensionTopics(log: Log, topics: string[], partitions: number): Promise<void> {
  for (const topic of topics) await log.ensureTopic(topic, { partitions });
}

/** The fixed topics the topology's non-internal sinks write. */
function sinkTopics(builder: StreamsBuilder): string[] {
  const topics = new Set<string>();
  for (const node of builder.build().allNodes()) {
    if (node.kind === 'sink' && !node.internal && typeof node.topic === 'string') topics.add(node.topic);
  }
  return [...topics];
}
