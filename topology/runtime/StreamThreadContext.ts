import type { Logger } from 'pino';
import type { Log } from '../../log/Log.js';
import type { StateStore } from '../../state/StateStore.js';
import type { Subtopology } from '../Subtopologies.js';
import type { Topology } from '../Topology.js';
import type { ResolvedStreamsConfig } from './StreamsConfig.js';
import type { TopologyMetrics } from './TopologyMetrics.js';

/**
 * What a stream thread shares with the app that started it, all of it known once the topics are
 * planned and the global stores are up. A thread reaches the log only through `log`: a worker
 * thread would build this from its own RemoteLog, metrics and logger.
 */
export interface StreamThreadContext {
  readonly topology: Topology;
  readonly log: Log;
  readonly config: ResolvedStreamsConfig;
  readonly metrics: TopologyMetrics;
  readonly logger: Logger | undefined;
  /** The sub-topology that reads each source topic: a record's task is `<sub.id>_<partition>`. */
  readonly subtopologyByTopic: ReadonlyMap<string, Subtopology>;
  /** Readable by every task's processors; kept up to date by the app's GlobalStateUpdater. */
  readonly globalStores: Map<string, StateStore>;
  /** Topics known to exist; a commit creates the ones its records name that are not (dynamic sinks). */
  readonly knownTopics: Set<string>;
}
