import os from 'node:os';
import { ConfigError, type Env, MIN_STREAM_HEAP_MB, readBoolean, readEnum, readInteger } from '../../config/index.js';

/** How the process spreads its roles over threads (docs/ARCHITECTURE.md §1). */
export interface ThreadConfig {
  /**
   * SINGLE_THREAD=true: ingress, topology and sink share the HTTP thread's event loop, as before
   * issue 13 (for embedding the pipeline in another program, debugging, a one-core box). Default
   * false: the HTTP thread runs the ingress only.
   */
  singleThread: boolean;
  /** STREAM_THREADS: worker threads running the topology's tasks (Kafka Streams' num.stream.threads). */
  streamThreads: number;
  /**
   * SINK_THREAD: where the ClickHouse sink runs. `own`: its own worker thread (off the topology's
   * event loop); `shared`: inside the (single) stream thread, one V8 isolate fewer (~15-20 MB of
   * idle RSS); `auto` (default): shared with one stream thread, own with two or more.
   */
  sinkThread: 'auto' | 'own' | 'shared';
  /**
   * STREAM_HEAP_MB: each stream thread's V8 old generation limit, MB, instead of its share of the
   * memory plan (MemoryPlan's streamHeapMb divided among the stream threads). Unset: the plan's.
   */
  streamHeapMb: number | undefined;
  /**
   * PIPELINE_THREAD_NICE: the nice value of the stream threads and the sink's (and of chDB's pools,
   * which they start), 0-19; 0 leaves them as the process is. The HTTP and log threads keep the
   * process's. Linux only (elsewhere ignored).
   */
  pipelineThreadNice: number;
}

/** Below this a stream thread cannot load the pipeline's modules; accepted so a test can run a worker out of heap. */
const MIN_STREAM_HEAP_SETTING_MB = 16;

/**
 * What fits the machine: the HTTP thread, the embedded log's thread and the sink's take a core's
 * worth between them under load, so the topology gets the cores left, at least one, and never
 * more threads than a sub-topology has tasks (the rest would sit idle with nothing assigned).
 */
export function defaultStreamThreads(cores: number, partitions: number): number {
  return Math.max(1, Math.min(partitions, cores - 2));
}

/** Each stream thread's V8 old generation, MB: STREAM_HEAP_MB, or the plan's share divided among them. */
export function streamHeapMbPerThread(threads: ThreadConfig, plannedMb: number): number {
  return threads.streamHeapMb ?? Math.max(MIN_STREAM_HEAP_MB / 2, Math.floor(plannedMb / threads.streamThreads));
}

export function readThreadConfig(env: Env, defaultPartitions: number): ThreadConfig {
  const config: ThreadConfig = {
    singleThread: readBoolean(env, 'SINGLE_THREAD', false),
    streamThreads: readInteger(env, 'STREAM_THREADS', defaultStreamThreads(os.availableParallelism(), defaultPartitions), 1, 64),
    sinkThread: readEnum(env, 'SINK_THREAD', ['auto', 'own', 'shared'] as const, 'auto'),
    pipelineThreadNice: readInteger(env, 'PIPELINE_THREAD_NICE', 0, 0, 19),
    streamHeapMb: env.STREAM_HEAP_MB?.trim() ? readInteger(env, 'STREAM_HEAP_MB', 0, MIN_STREAM_HEAP_SETTING_MB, 1024 * 1024) : undefined,
  };
  if (config.sinkThread === 'shared' && config.streamThreads !== 1) {
    throw new ConfigError(`SINK_THREAD=shared needs STREAM_THREADS=1 (got ${config.streamThreads}): the sink shares the one stream thread`);
  }
  return config;
}
