import os from 'node:os';
import { type Env, readBoolean, readInteger } from '../../config/index.js';

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
}

/**
 * What fits the machine: the HTTP thread, the embedded log's thread and the sink's take a core's
 * worth between them under load, so the topology gets the cores left, at least one, and never
 * more threads than a sub-topology has tasks (the rest would sit idle with nothing assigned).
 */
export function defaultStreamThreads(cores: number, partitions: number): number {
  return Math.max(1, Math.min(partitions, cores - 2));
}

export function readThreadConfig(env: Env, defaultPartitions: number): ThreadConfig {
  return {
    singleThread: readBoolean(env, 'SINGLE_THREAD', false),
    streamThreads: readInteger(env, 'STREAM_THREADS', defaultStreamThreads(os.availableParallelism(), defaultPartitions), 1, 64),
  };
}
