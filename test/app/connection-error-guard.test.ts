import net from 'node:net';
import { Connection, metadataV12 } from '@platformatic/kafka';
import { Registry } from 'prom-client';
import { absorbedConnectionErrors, guardKafkaConnections } from '../../log/kafka/ConnectionErrors.js';

/**
 * Issue 21 item 3: a Kafka connection whose socket is reset (the broker SIGKILLed) emits 'error';
 * with no listener that event would end the process (jest reports it as an uncaught exception).
 * A raw Connection, as GroupCoordinator opens, to a server that resets every socket it accepts.
 */
describe('Kafka connection error guard', () => {
  let server: net.Server;
  let port: number;

  beforeAll(async () => {
    server = net.createServer((socket) => {
      // Read the first request, then reset: ECONNRESET on the client, as when a broker dies.
      socket.once('data', () => socket.resetAndDestroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  test('a reset socket fails the request in flight and the error event is absorbed and counted', async () => {
    const registry = new Registry();
    const remove = guardKafkaConnections({ registry });
    try {
      const before = absorbedConnectionErrors;
      const connection = new Connection('guard-test', { connectTimeout: 1000, requestTimeout: 2000 });
      expect(connection.listenerCount('error')).toBe(1);
      await connection.connect('127.0.0.1', port);
      const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
      await expect(metadataV12.api.async(connection, [], false, false)).rejects.toThrow();
      await closed;
      expect(absorbedConnectionErrors).toBeGreaterThan(before);
      const metric = await registry.getSingleMetric('streamline_kafka_connection_errors_total')!.get();
      expect(metric.values[0]!.value).toBeGreaterThanOrEqual(1);
    } finally {
      remove();
    }
  });

  test('a connect to a port nobody listens on rejects without an uncaught error', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const free = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    const remove = guardKafkaConnections();
    try {
      const connection = new Connection('guard-test-refused', { connectTimeout: 1000 });
      await expect(connection.connect('127.0.0.1', closedPort)).rejects.toThrow(/failed/);
    } finally {
      remove();
    }
  });
});
