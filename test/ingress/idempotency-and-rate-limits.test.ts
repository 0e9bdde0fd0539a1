import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryRateLimiter } from '../../ingress/RateLimiter.js';
import { MemoryIdempotencyStore } from '../../ingress/IdempotencyStore.js';
import { type ConfigOverrides, type Harness, productEvent, startIngress } from './ingress-harness.js';

const attempt = (id: string, user = 'u-1') => ({ user_id: user, item_id: 'item-1', client_attempt_id: id, correct: true });

type Backend = 'memory' | 'redis';

describe.each<Backend>(['memory', 'redis'])('idempotency and rate limits (%s)', (backend) => {
  let redis: Redis | undefined;
  let prefix: string;
  const harnesses: Harness[] = [];

  beforeAll(async () => {
    if (backend === 'redis') {
      redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
      await redis.ping();
    }
  });
  afterAll(async () => {
    for (const h of harnesses.splice(0)) await h.close();
    if (redis) {
      const keys = await redis.keys('test-ingress:*');
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  /** Replicas started by one test share a key prefix, so in Redis mode they share state. */
  const replica = async (config: ConfigOverrides = {}) => {
    const h = await startIngress({ redis, config: { redisKeyPrefix: prefix, ...config } });
    harnesses.push(h);
    return h;
  };
  const fresh = () => {
    prefix = `test-ingress:${randomUUID()}:`;
  };

  test('a repeated id is answered as a duplicate and written once', async () => {
    fresh();
    const h = await replica();
    const first = await h.inject({ url: '/api/v1/events/attempt', payload: attempt('dup-1') });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ status: 'accepted', duplicate: false, event_id: 'dup-1' });
    const second = await h.inject({ url: '/api/v1/events/attempt', payload: attempt('dup-1') });
    expect(second.statusCode).toBe(202);
    expect(second.json()).toMatchObject({ status: 'duplicate', duplicate: true, event_id: 'dup-1' });

    const p1 = await h.inject({ url: '/events', payload: productEvent(7) });
    const p2 = await h.inject({ url: '/events', payload: productEvent(7) });
    expect(p1.headers['x-duplicate']).toBeUndefined();
    expect(p2.statusCode).toBe(202);
    expect(p2.json()).toEqual({ status: 'accepted' });
    expect(p2.headers['x-duplicate']).toBe('true');

    // Inside one batch, too.
    const batch = await h.inject({ url: '/api/v1/events/batch', payload: [attempt('dup-2'), attempt('dup-2'), attempt('dup-1')] });
    expect(batch.statusCode).toBe(200);
    expect(batch.json().results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'duplicate', 'duplicate']);

    const ids = (await h.envelopes()).map((e) => e.event_id);
    expect(ids.sort()).toEqual(['dup-1', 'dup-2', 'evt-7']);
    const prom = await h.inject({ url: '/metrics' });
    expect(prom.body).toMatch(/streamline_ingress_events_duplicate_total\{route="seed000"\} 3/);
  });

  test('the same id under different event types is not a duplicate (per-type windows)', async () => {
    fresh();
    const h = await replica();
    expect((await h.inject({ url: '/api/v1/events/attempt', payload: attempt('shared') })).json().status).toBe('accepted');
    const session = await h.inject({ url: '/api/v1/events/session', payload: { session_id: 'shared', user_id: 'u', start_time: '2024-01-01T00:00:00Z' } });
    expect(session.json().status).toBe('accepted');
  });

  if (backend === 'redis') {
    test('replicas sharing Redis agree on duplicates and on rate limits', async () => {
      fresh();
      const a = await replica({ rateLimit: { requestsPerMinute: 60, burst: 3 } });
      const b = await replica({ rateLimit: { requestsPerMinute: 60, burst: 3 } });
      expect((await a.inject({ url: '/api/v1/events/attempt', payload: attempt('r-1', 'shared-user') })).json().status).toBe('accepted');
      expect((await b.inject({ url: '/api/v1/events/attempt', payload: attempt('r-1', 'shared-user') })).json().status).toBe('duplicate');
      expect(await b.envelopes()).toHaveLength(0);
      expect((await b.inject({ url: '/api/v1/events/attempt', payload: attempt('r-2', 'shared-user') })).statusCode).toBe(202);
      const limited = await a.inject({ url: '/api/v1/events/attempt', payload: attempt('r-3', 'shared-user') });
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });
  }

  test('per-user token bucket: burst then 429 + Retry-After in the adapter shape; other users unaffected', async () => {
    fresh();
    const h = await replica({ rateLimit: { requestsPerMinute: 60, burst: 3 } });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await h.inject({ url: '/events', payload: productEvent(i, 'busy') })).statusCode);
    expect(codes).toEqual([202, 202, 202]);
    const limited = await h.inject({ url: '/events', payload: productEvent(3, 'busy') });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json()).toEqual({ error: expect.stringMatching(/rate limit/) });
    const seed000 = await h.inject({ url: '/api/v1/events/attempt', payload: attempt('rl-1', 'busy') });
    expect(seed000.statusCode).toBe(429);
    expect(seed000.json()).toMatchObject({ success: false, retry_after: 1 });
    expect((await h.inject({ url: '/events', payload: productEvent(4, 'calm') })).statusCode).toBe(202);
    // Refused requests wrote nothing.
    expect((await h.envelopes()).map((e) => e.event_id).sort()).toEqual(['evt-0', 'evt-1', 'evt-2', 'evt-4']);
    const prom = await h.inject({ url: '/metrics' });
    // Loopback is exempt from the per-IP limit by default, so only the user bucket was in play.
    expect(prom.body).toMatch(/streamline_ingress_rate_limited_total\{scope="user"\} 2/);
  });

  test('per-IP token bucket limits batches and single events alike', async () => {
    fresh();
    const h = await replica({ rateLimit: { ipRequestsPerMinute: 60, ipBurst: 2, requestsPerMinute: 0, ipExempt: [] } });
    expect((await h.inject({ url: '/events', payload: productEvent(1, 'a') })).statusCode).toBe(202);
    expect((await h.inject({ url: '/events', payload: productEvent(2, 'b') })).statusCode).toBe(202);
    const collector = await h.inject({ url: '/api/v1/collect', payload: [{}] });
    expect(collector.statusCode).toBe(429);
    expect(collector.headers['retry-after']).toBe('1');
    expect(collector.json()).toHaveProperty('detail');
  });

  test('tokens refill with time', async () => {
    fresh();
    // One token per 2 s: a loaded machine's gap between the first two requests stays well under it.
    const h = await replica({ rateLimit: { requestsPerMinute: 30, burst: 1 } });
    expect((await h.inject({ url: '/events', payload: productEvent(1, 'refill') })).statusCode).toBe(202);
    const limited = await h.inject({ url: '/events', payload: productEvent(2, 'refill') });
    expect(limited.statusCode).toBe(429);
    // Time passing is what is tested here.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await h.inject({ url: '/events', payload: productEvent(2, 'refill') })).statusCode).toBe(202);
  });
});

describe('in-memory structures', () => {
  test('MemoryRateLimiter is all-or-nothing across buckets and computes the wait', () => {
    const limiter = new MemoryRateLimiter(60_000);
    const user = { key: 'user:a', perMinute: 60, burst: 1 };
    const ip = { key: 'ip:1', perMinute: 60, burst: 2 };
    expect(limiter.takeNow([ip, user], 0)).toBe(0);
    expect(limiter.takeNow([ip, user], 0)).toBe(1000); // user empty: refused, ip not charged
    expect(limiter.takeNow([ip], 0)).toBe(0); // ip still had its second token
    expect(limiter.takeNow([ip, user], 500)).toBe(500);
    expect(limiter.takeNow([ip, user], 1000)).toBe(0);
    limiter.cleanup(1000 + 1000); // the user bucket (burst 1) is full again after 1 s idle
    expect(limiter.size).toBe(1);
    limiter.cleanup(1000 + 2000); // the ip bucket (burst 2) after 2 s
    expect(limiter.size).toBe(0);
    void limiter.close();
  });

  test('MemoryIdempotencyStore honours TTLs, namespaces, releases and its capacity', () => {
    const store = new MemoryIdempotencyStore(4);
    const ns = (n: number) => Array<string>(n).fill('attempt');
    expect(store.claimNow(ns(3), ['a', 'b', 'a'], [50, 1000, 50], 0)).toEqual([true, true, false]);
    expect(store.claimNow(['session'], ['a'], [50], 0)).toEqual([true]); // another namespace
    expect(store.claimNow(ns(1), ['a'], [50], 49)).toEqual([false]);
    expect(store.claimNow(ns(1), ['a'], [50], 50)).toEqual([true]); // expired: claimable again
    void store.release(ns(1), ['b']);
    expect(store.claimNow(ns(1), ['b'], [1000], 60)).toEqual([true]);
    expect(store.claimNow(ns(3), ['c', 'd', 'e'], [1000, 1000, 1000], 60)).toEqual([true, true, true]);
    expect(store.size).toBeLessThanOrEqual(4 + 1);
    // The oldest generation (a, b) was dropped to stay within capacity; recent ids are kept.
    expect(store.claimNow(ns(2), ['a', 'e'], [1000, 1000], 70)).toEqual([true, false]);
  });
});
