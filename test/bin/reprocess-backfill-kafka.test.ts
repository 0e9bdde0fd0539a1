import { randomUUID } from 'node:crypto';
import { openKafkaLog } from '../../log/kafka/KafkaLog.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { isolatedEnv } from '../kafka-e2e/support/product-load.js';
import { backfillScenario, type BackfillPipeline } from './backfill-scenario.js';

/** A pipeline of its own on the shared broker: topics, application id and groups under `tag`. */
function namespace(tag: string, dataDir: string): BackfillPipeline {
  const isolated = isolatedEnv(tag);
  return {
    env: { ...isolated, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SINK_BATCH_LINGER: '50ms', SINGLE_THREAD: 'true', AGGREGATION_GRACE: '24h', KAFKA_BROKERS: testKafkaBrokers(), DATA_DIR: dataDir },
    topics: { landing: isolated.KAFKA_TOPIC!, clean: isolated.CLEAN_EVENTS_TOPIC!, aggregates: isolated.AGGREGATES_TOPIC!, applicationId: isolated.APPLICATION_ID!, sinkGroup: isolated.SINK_GROUP_ID! },
  };
}

backfillScenario({
  title: 'streamline backfill on Kafka: a new aggregation over the retained events, the old tables unchanged',
  pipelines: (dataDir, scratchDir) => ({
    main: namespace(`bf-${randomUUID().slice(0, 8)}`, dataDir),
    scratch: namespace(`bfs-${randomUUID().slice(0, 8)}`, scratchDir),
  }),
  openLog: (env, name) => openKafkaLog({ brokers: env.KAFKA_BROKERS!.split(','), clientId: `${env.KAFKA_CLIENT_ID}-${name}` }),
  catchUpTimeoutMs: 900_000,
});
