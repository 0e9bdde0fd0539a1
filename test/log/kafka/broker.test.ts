import { Admin } from '@platformatic/kafka';
import { testKafkaBrokers } from '../../support/kafka-broker.js';

describe('test Kafka broker (global setup)', () => {
  it('answers a metadata request at TEST_KAFKA_BROKERS', async () => {
    const admin = new Admin({ clientId: 'broker-test', bootstrapBrokers: [testKafkaBrokers()], retries: 0 });
    try {
      const metadata = await admin.metadata({ topics: [] });
      expect(metadata.brokers.size).toBe(1);
    } finally {
      await admin.close();
    }
  });
});
