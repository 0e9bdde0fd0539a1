import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TopicPartitionOffset } from '../../log/Log.js';

export interface StreamsConfig {
  /** Names the consumer group, the transactional id and the changelog/repartition topics. */
  applicationId: string;
  /** Local stores live under <stateDir>/<applicationId>/<taskId>/<store>; global ones under .../global/<store>. */
  stateDir: string;
  /**
   * Where global stores live, default <stateDir>/<applicationId>/global. Each StreamsApp keeps its
   * own copy of every global table, so two in one process (the stream threads of app/threads/)
   * need two directories: RocksDB opens a directory once.
   */
  globalStateDir?: string;
  /** Kafka Streams' default under exactly-once. */
  commitIntervalMs?: number;
  maxPollRecords?: number;
  dlqTopic?: string;
  /** Partition count for topics the runtime has to create (missing sources and sinks). */
  defaultPartitions?: number;
  /** How often global stores read what was appended to their topics. */
  globalRefreshIntervalMs?: number;
  /**
   * Names this instance's transactional producer: `<applicationId>-<instanceId>`. Instances must
   * differ, or they fence each other on every commit; zombies are fenced by the consumer group
   * generation instead (EOS v2). Default: a random id per start.
   */
  instanceId?: string;
  /**
   * Failed commits in a row, with the log answering, before the topology stops with an error.
   * Failures while the log is unreachable do not count: an outage is waited out.
   */
  maxFailedCommits?: number;
  registry?: Registry;
  logger?: Logger;
}

/** StreamsConfig with every default applied; what the stream threads and their parts read. */
export type ResolvedStreamsConfig = Required<Omit<StreamsConfig, 'logger' | 'registry'>>;

export const DEFAULT_MAX_FAILED_COMMITS = 10;

export function resolveStreamsConfig(config: StreamsConfig, randomId: () => string): ResolvedStreamsConfig {
  return {
    applicationId: config.applicationId,
    stateDir: config.stateDir,
    globalStateDir: config.globalStateDir ?? path.join(config.stateDir, config.applicationId, 'global'),
    commitIntervalMs: config.commitIntervalMs ?? 100,
    maxPollRecords: config.maxPollRecords ?? 5000,
    dlqTopic: config.dlqTopic ?? `${config.applicationId}-dlq`,
    defaultPartitions: config.defaultPartitions ?? 3,
    globalRefreshIntervalMs: config.globalRefreshIntervalMs ?? 200,
    instanceId: config.instanceId ?? randomId(),
    maxFailedCommits: config.maxFailedCommits ?? DEFAULT_MAX_FAILED_COMMITS,
  };
}

export type StreamsState = 'CREATED' | 'STARTING' | 'RUNNING' | 'PENDING_SHUTDOWN' | 'NOT_RUNNING' | 'ERROR';

export interface CommitEvent {
  /** Input offsets committed. */
  offsets: TopicPartitionOffset[];
  /**
   * Per partition written (outputs, repartition topics, changelogs), the offset after the last
   * record. On Kafka the commit markers follow commit() by a few milliseconds: a reader that
   * must see this commit's records waits until the partitions' end offsets reach these.
   */
  written: TopicPartitionOffset[];
  records: number;
  durationMs: number;
}
