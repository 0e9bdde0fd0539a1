import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { openIngressRedis, redactedUrl } from '../../ingress/IngressRedis.js';

/** Issue 21 item 5: with REDIS_URL set and Redis down, reconnect errors are counted, not logged every time. */
describe('the ingress Redis connection', () => {
  test('a Redis that does not answer: every error counted, one warning', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const lines: { level: number; msg: string; url?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    });
    const registry = new Registry();
    const redis = openIngressRedis(`redis://user:secret@127.0.0.1:${closedPort}`, pino({ level: 'info' }, sink), registry);
    try {
      let errors = 0;
      await new Promise<void>((resolve) => {
        redis.on('error', () => {
          if (++errors === 4) resolve();
        });
      });
      const counted = (await registry.getSingleMetric('streamline_redis_connection_errors_total')!.get()).values[0]!.value;
      expect(counted).toBeGreaterThanOrEqual(4);
      const warnings = lines.filter((line) => line.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/^Redis unreachable: .*start Redis or unset REDIS_URL$/);
      expect(warnings[0]!.url).toBe(`redis://user:***@127.0.0.1:${closedPort}`);
    } finally {
      redis.disconnect();
    }
  });

  test('passwords never reach the log', () => {
    expect(redactedUrl('redis://:hunter2@redis.internal:6379/0')).toBe('redis://:***@redis.internal:6379/0');
    expect(redactedUrl('redis://redis.internal:6379')).toBe('redis://redis.internal:6379');
  });
});
