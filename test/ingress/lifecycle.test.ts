import { describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { FaultyLog } from './FaultyLog.js';
import { productEvent, startIngress, waitFor } from './ingress-harness.js';

describe('ingress lifecycle', () => {
  test('graceful shutdown: a request in flight when close() starts is answered and its event is written', async () => {
    let faulty!: FaultyLog;
    const h = await startIngress({ wrapLog: (log) => (faulty = new FaultyLog(log)) });
    try {
      expect((await h.inject({ url: '/events', payload: productEvent(0) })).statusCode).toBe(202);
      faulty.delayMs = 300;
      const pending = h.inject({ url: '/events', payload: productEvent(1) });
      await waitFor(() => h.app.ingress.budget.bytes > 0, 5000, 'request in flight');
      const closing = h.app.close();
      const res = await pending;
      expect(res.statusCode).toBe(202);
      await closing;
      expect((await h.envelopes()).map((e) => e.event_id)).toEqual(['evt-0', 'evt-1']);
    } finally {
      await h.close();
    }
  });

  test('Redis unreachable: rate limits fail open and events are still written; /ready names redis', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => undefined);
    const h = await startIngress({ redis, config: { rateLimit: { requestsPerMinute: 60, burst: 1 } } });
    try {
      for (let i = 0; i < 3; i++) expect((await h.inject({ url: '/events', payload: productEvent(i, 'same-user') })).statusCode).toBe(202);
      expect(await h.envelopes()).toHaveLength(3);
      const ready = await h.inject({ url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks).toMatchObject({ redis: 'failed', log: 'ok' });
      expect((await h.inject({ url: '/health' })).json().components.rate_limiter).toEqual({ backend: 'redis' });
    } finally {
      await h.close();
      redis.disconnect();
    }
  });
});
