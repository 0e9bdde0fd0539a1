import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { backfillScenario } from './backfill-scenario.js';
import type { PipelineTopics } from './reprocess-scenario.js';

const TOPICS: PipelineTopics = { landing: 'events.raw', clean: 'events.clean', aggregates: 'processor.aggregates', applicationId: 'streamline', sinkGroup: 'clickhouse-sink' };
const env = (dataDir: string) => ({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SINK_BATCH_LINGER: '50ms', SINGLE_THREAD: 'true', AGGREGATION_GRACE: '24h' });

backfillScenario({
  title: 'streamline backfill: a new aggregation over the retained events, the old tables unchanged',
  pipelines: (dataDir, scratchDir) => ({ main: { env: env(dataDir), topics: TOPICS }, scratch: { env: env(scratchDir), topics: TOPICS } }),
  openLog: (env) => openEmbeddedLog({ dir: path.join(env.DATA_DIR!, 'log') }),
  catchUpTimeoutMs: 600_000,
});
