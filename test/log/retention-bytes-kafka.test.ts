import { Admin } from '@platformatic/kafka';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { uniqueName } from './log-contract.js';

/** Issue 21 item 3: a topic's retentionBytes reaches the broker as retention.bytes. */
describe('retentionBytes on a real Kafka broker', () => {
  let log: KafkaLog;
  let admin: Admin;

  beforeAll(async () => {
    const brokers = testKafkaBrokers().split(',');
    log = await openKafkaLog({ brokers, clientId: uniqueName('retention-bytes') });
    admin = new Admin({ clientId: 'retention-bytes-test', bootstrapBrokers: brokers });
  });
  afterAll(async () => {
    await log?.close();
    await admin?.close();
  });

  it('creates the topic with retention.bytes; without it the broker default (-1) stays', async () => {
    const bounded = uniqueName('bounded');
    const unbounded = uniqueName('unbounded');
    await log.ensureTopic(bounded, { partitions: 2, cleanupPolicy: 'delete', retentionBytes: 10_485_760 });
    await log.ensureTopic(unbounded, { partitions: 1 });
    const described = await admin.describeConfigs({
      resources: [bounded, unbounded].map((name) => ({ resourceType: 2 as const, resourceName: name, configurationKeys: ['retention.bytes'] })),
    });
    const value = (topic: string) => described.find((d) => d.resourceName === topic)?.configs.find((c) => c.name === 'retention.bytes')?.value;
    expect(value(bounded)).toBe('10485760');
    expect(value(unbounded)).toBe('-1');
  });
});
