import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Log, TopicPartition } from '../log/Log.js';
import type { AnalyticsStore } from './AnalyticsStore.js';
import type { IsolationStep } from './PoisonIsolation.js';
import type { RowMapper } from './RowMappers.js';

/** Records of `topic` become rows of `table` through `map`. A topic may feed several tables. */
export interface SinkRoute {
  topic: string;
  table: string;
  map: RowMapper;
}

export interface SinkBatchInfo {
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  records: number;
  rows: Record<string, number>;
  /** The token of the round the batch was written in (SinkRound.ts): shared by every batch of that round. */
  dedupToken: string;
  /** Records of the batch going to the DLQ with the offset commit (refused rows, not JSON, mapper threw). */
  deadLetters: number;
}

export interface ClickHouseSinkOptions {
  log: Log;
  store: AnalyticsStore;
  routes: SinkRoute[];
  /** Consumer group; also the sink's name in sink_batches and in metric labels. */
  groupId?: string;
  /** A batch is cut at this many records of one partition... */
  maxBatchRecords?: number;
  /** ...or this many record bytes (keys + values; SINK_BATCH_MAX_BYTES)... */
  maxBatchBytes?: number;
  /** ...or when its oldest record has waited this long. */
  lingerMs?: number;
  /** Backoff while ClickHouse fails: doubles from initial up to max. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** When idle, ClickHouse is pinged this often so isReady() notices an outage without traffic. */
  healthCheckIntervalMs?: number;
  registry?: Registry;
  logger?: Logger;
  /** Called for each batch of a round after the round's rows are acknowledged and BEFORE its offsets are committed. */
  onBatchInserted?: (batch: SinkBatchInfo) => void | Promise<void>;
  /**
   * Where records go that cannot become rows: a row the engine refuses for its data, a value
   * that is not JSON, a mapper that throws. Default events-dlq (DLQ_TOPIC).
   */
  deadLetterTopic?: string;
  /** Called after each insert made while isolating a refused row (the crash tests kill here). */
  onIsolationStep?: (step: IsolationStep & TopicPartition) => void | Promise<void>;
}
