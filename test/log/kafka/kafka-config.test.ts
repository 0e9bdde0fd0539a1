import { ConfigError } from '../../../config/index.js';
import { KafkaLog } from '../../../log/kafka/KafkaLog.js';
import { readKafkaConfig } from '../../../log/kafka/KafkaConfig.js';

describe('Kafka config from the environment', () => {
  it('is undefined without KAFKA_BROKERS or KAFKA_BOOTSTRAP_SERVERS (embedded mode)', () => {
    expect(readKafkaConfig({})).toBeUndefined();
    expect(readKafkaConfig({ KAFKA_BROKERS: ' ' })).toBeUndefined();
  });

  it('reads the seeds’ variable names with their defaults', () => {
    const config = readKafkaConfig({ KAFKA_BOOTSTRAP_SERVERS: 'a:9092, b:9093' })!;
    expect(config).toEqual({
      brokers: ['a:9092', 'b:9093'],
      clientId: 'streamline',
      compression: 'none',
      acks: 'all',
      retries: 5,
      retryBackoffMs: 250,
      produceTimeoutMs: 30_000,
      requestTimeoutMs: 10_000,
      connectTimeoutMs: 3_000,
      sessionTimeoutMs: 10_000,
      transactionTimeoutMs: 10_000,
    });
    const custom = readKafkaConfig({
      KAFKA_BROKERS: 'k:1',
      KAFKA_BOOTSTRAP_SERVERS: 'ignored:2',
      KAFKA_CLIENT_ID: 'ingress',
      KAFKA_COMPRESSION_TYPE: 'LZ4',
      KAFKA_ACKS: '-1',
      KAFKA_MAX_RETRIES: '9',
      KAFKA_RETRY_BACKOFF_MS: '1s',
      KAFKA_PRODUCER_TIMEOUT: '5s',
    })!;
    expect(custom).toMatchObject({ brokers: ['k:1'], clientId: 'ingress', compression: 'lz4', acks: 'all', retries: 9, retryBackoffMs: 1000, produceTimeoutMs: 5000 });
    expect(readKafkaConfig({ KAFKA_BROKERS: 'k:1', KAFKA_PRODUCER_RETRIES: '2', KAFKA_MAX_RETRIES: '9' })!.retries).toBe(2);
  });

  it('rejects bad values with the variable named', () => {
    expect(() => readKafkaConfig({ KAFKA_BROKERS: 'nohost' })).toThrow(/KAFKA_BROKERS entry "nohost"/);
    expect(() => readKafkaConfig({ KAFKA_BROKERS: 'k:1', KAFKA_COMPRESSION_TYPE: 'brotli' })).toThrow(/KAFKA_COMPRESSION_TYPE/);
    expect(() => readKafkaConfig({ KAFKA_BROKERS: 'k:1', KAFKA_ACKS: '2' })).toThrow(/KAFKA_ACKS/);
    expect(() => readKafkaConfig({ KAFKA_BROKERS: 'k:1', KAFKA_PRODUCER_RETRIES: 'many' })).toThrow(ConfigError);
  });

  it('refuses at start a codec the client cannot use here (zstd on Node 20), and accepts the others', () => {
    const zstdAvailable = Number(process.versions.node.split('.')[0]) >= 23 || (process.versions.node.startsWith('22.') && Number(process.versions.node.split('.')[1]) >= 15);
    if (!zstdAvailable) {
      expect(() => new KafkaLog({ brokers: ['127.0.0.1:1'], clientId: 't', compression: 'zstd' })).toThrow(/KAFKA_COMPRESSION_TYPE=zstd is not supported/);
    }
    // On Node 24 (CI's second pass) zstd is one of the accepted codecs.
    const usable = zstdAvailable ? (['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) : (['none', 'gzip', 'snappy', 'lz4'] as const);
    for (const compression of usable) {
      const log = new KafkaLog({ brokers: ['127.0.0.1:1'], clientId: 't', compression });
      expect(log.kind).toBe('kafka');
      void log.close();
    }
  });
});
