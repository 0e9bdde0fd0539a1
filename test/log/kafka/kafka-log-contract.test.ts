import { openKafkaLog } from '../../../log/kafka/KafkaLog.js';
import { describeLogContract, uniqueName } from '../log-contract.js';
import { testKafkaBrokers } from '../../support/kafka-broker.js';

// The same behaviour the embedded log has, on a real Apache Kafka broker.
describeLogContract('KafkaLog', async () => {
  const log = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('contract'), sessionTimeoutMs: 6000 });
  return { log, cleanup: () => log.close() };
});
