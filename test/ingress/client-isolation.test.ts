import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import { RateLimitAddresses } from '../../ingress/ClientAddress.js';
import { type PreparedEvent, idempotencyId } from '../../ingress/IngestCore.js';
import { readIngressConfig } from '../../ingress/IngressConfig.js';
import { MemoryRateLimiter } from '../../ingress/RateLimiter.js';
import { type Harness, productEvent, startIngress, waitFor } from './ingress-harness.js';

/**
 * Issue 12, parts 5, 6 and 8: no client can spend state the server keeps for others (rate-limit
 * buckets keyed on unvalidated ids, another user's idempotency window), a single host is limited
 * by default, and the in-flight budget counts the bytes a body really brings.
 */
type Backend = 'memory' | 'redis';

describe.each<Backend>(['memory', 'redis'])('idempotency is per user (%s)', (backend) => {
  let redis: Redis | undefined;
  let h: Harness;
  const prefix = `test-ingress-iso:${randomUUID()}:`;
  beforeAll(async () => {
    if (backend === 'redis') redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    h = await startIngress({ redis, config: { redisKeyPrefix: prefix } });
  });
  afterAll(async () => {
    await h.close();
    if (redis) {
      const keys = await redis.keys(prefix + '*');
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  test("the same event_id from a second user is written (it was answered X-Duplicate and dropped); the first user's repeat is still a duplicate", async () => {
    const first = await h.inject({ url: '/events', payload: productEvent(1, 'alice', { event_id: 'shared-id' }) });
    const second = await h.inject({ url: '/events', payload: productEvent(1, 'mallory', { event_id: 'shared-id' }) });
    const repeat = await h.inject({ url: '/events', payload: productEvent(1, 'alice', { event_id: 'shared-id' }) });
    expect([first.statusCode, second.statusCode, repeat.statusCode]).toEqual([202, 202, 202]);
    expect(first.headers['x-duplicate']).toBeUndefined();
    expect(second.headers['x-duplicate']).toBeUndefined();
    expect(repeat.headers['x-duplicate']).toBe('true');
    const written = (await h.envelopes()).filter((e) => e.event_id === 'shared-id').map((e) => e.payload.user_id);
    expect(written.sort()).toEqual(['alice', 'mallory']);

    const a = await h.inject({ url: '/api/v1/events/attempt', payload: { user_id: 'u-a', item_id: 'i', client_attempt_id: 'att-1', correct: true } });
    const b = await h.inject({ url: '/api/v1/events/attempt', payload: { user_id: 'u-b', item_id: 'i', client_attempt_id: 'att-1', correct: true } });
    expect([a.json().status, b.json().status]).toEqual(['accepted', 'accepted']);
  });
});

describe('idempotency is per ingest key (INGEST_API_KEYS)', () => {
  let h: Harness;
  beforeAll(async () => {
    const keys = new Map([
      ['web', 'web-key-0123456789abcdef0123456789'],
      ['ios', 'ios-key-0123456789abcdef0123456789'],
    ]);
    h = await startIngress({ extra: { ingestKeys: { keys, requestsPerMinute: 0, burst: 1 } } });
  });
  afterAll(async () => {
    await h.close();
  });

  test('one source cannot suppress another source\'s event with the same user and id; a repeat through the same key is a duplicate', async () => {
    const send = (key: string) => h.inject({ url: '/events', headers: { 'x-api-key': key }, payload: productEvent(1, 'same-user', { event_id: 'same-id' }) });
    const web = await send('web-key-0123456789abcdef0123456789');
    const ios = await send('ios-key-0123456789abcdef0123456789');
    const webAgain = await send('web-key-0123456789abcdef0123456789');
    expect([web.statusCode, ios.statusCode, webAgain.statusCode]).toEqual([202, 202, 202]);
    expect([web.headers['x-duplicate'], ios.headers['x-duplicate'], webAgain.headers['x-duplicate']]).toEqual([undefined, undefined, 'true']);
    expect((await h.envelopes()).filter((e) => e.event_id === 'same-id')).toHaveLength(2);
  });
});

describe('idempotency ids', () => {
  const event = (key: string, eventId: string) => ({ key, eventId }) as PreparedEvent;
  test('are scoped by user and source key, without ambiguity between the parts', () => {
    expect(idempotencyId(event('alice', 'e1'))).not.toBe(idempotencyId(event('bob', 'e1')));
    expect(idempotencyId(event('alice', 'e1'), 'web')).not.toBe(idempotencyId(event('alice', 'e1'), 'ios'));
    expect(idempotencyId(event('alice', 'e1'), 'web')).not.toBe(idempotencyId(event('alice', 'e1')));
    // Separators inside the parts cannot make two triples meet.
    expect(idempotencyId(event('a:b', 'c'))).not.toBe(idempotencyId(event('a', 'b:c')));
    expect(idempotencyId(event('u', 'x'), 'k1:u')).not.toBe(idempotencyId(event('k1:u', 'x'), 'k'));
    expect(idempotencyId(event('alice', 'e1'), 'web')).toBe(idempotencyId(event('alice', 'e1'), 'web'));
  });
});

describe('validation before per-request state', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startIngress({ config: { rateLimit: { requestsPerMinute: 60_000, burst: 100 } } });
  });
  afterAll(async () => {
    await h.close();
  });

  test('8 MB user ids refused by the schema leave no rate-limit bucket behind (RSS grew 487 -> 856 MB for 30 of them)', async () => {
    const limiter = h.app.ingress.limiter as MemoryRateLimiter;
    const huge = 'u'.repeat(8 * 1024 * 1024);
    for (let i = 0; i < 3; i++) {
      const product = await h.inject({ url: '/events', payload: productEvent(i, huge) });
      // Larger than the event limit: refused on its raw length before any walk, schema or bucket.
      expect(product.statusCode).toBe(413);
      expect(product.json().error).toMatch(/the limit is 65536/);
      const seed000 = await h.inject({ url: '/api/v1/events/attempt', payload: { user_id: huge, item_id: 'i', client_attempt_id: `h-${i}`, correct: true } });
      expect(seed000.statusCode).toBe(413);
    }
    // Within the event limit but over the schema's 256 characters: 400 from the schema, still no bucket.
    const long = await h.inject({ url: '/events', payload: productEvent(5, 'u'.repeat(10_000)) });
    expect(long.statusCode).toBe(400);
    expect(long.json().error).toMatch(/user_id must NOT have more than 256 characters/);
    expect(limiter.size).toBe(0);
    expect((await h.records()).length).toBe(0);
    // A valid request does take a bucket: the check above is not vacuous.
    expect((await h.inject({ url: '/events', payload: productEvent(9, 'valid-user') })).statusCode).toBe(202);
    expect(limiter.size).toBe(1);
  });

  test('30 requests with an 8 MB user_id: the heap after a full GC stays near where it was (the limiter held them all)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const text = JSON.stringify(productEvent(1, 'u'.repeat(8 * 1024 * 1024)));
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 30; i++) {
      // 30 different user ids, as 30 clients would send.
      const body = Buffer.from(text.replace('"user_id":"', `"user_id":"${i}-`));
      expect((await h.inject({ url: '/events', payload: body, headers: { 'content-type': 'application/json' } })).statusCode).toBe(413);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 30 retained 8 MB keys would be 240 MB; one request's worth of garbage is allowed for.
    expect(grown).toBeLessThan(32 * 1024 * 1024);
  });

  test('an Idempotency-Key longer than any id is refused, not kept', async () => {
    const event = { event_name: 'view', channel: 'web', user_id: 'k-user', timestamp: 1708732800000 };
    const reply = await h.inject({ url: '/events', headers: { 'idempotency-key': 'k'.repeat(1000) }, payload: event });
    expect(reply.statusCode).toBe(400);
    expect(reply.json().error).toMatch(/Idempotency-Key must have at most 256 characters/);
  });
});

describe('per-IP limit', () => {
  test('is on by default at 6,000 requests/min (bursts of 1,000), loopback exempt; RATE_LIMIT_IP_EXEMPT is validated', () => {
    const config = readIngressConfig({});
    expect(config.rateLimit).toMatchObject({ ipRequestsPerMinute: 6_000, ipBurst: 1_000, ipExempt: ['127.0.0.0/8', '::1/128'] });
    expect(readIngressConfig({ RATE_LIMIT_IP_EXEMPT: 'none' }).rateLimit.ipExempt).toEqual([]);
    expect(readIngressConfig({ RATE_LIMIT_IP_EXEMPT: '10.0.0.0/8, fd00::/8,192.168.1.7' }).rateLimit.ipExempt).toHaveLength(3);
    expect(() => readIngressConfig({ RATE_LIMIT_IP_EXEMPT: '10.0.0.0/33' })).toThrow(/RATE_LIMIT_IP_EXEMPT: "10.0.0.0\/33" has an invalid prefix length/);
    expect(() => readIngressConfig({ RATE_LIMIT_IP_EXEMPT: 'localhost' })).toThrow(/not an IP address or CIDR/);
    const addresses = new RateLimitAddresses(config.rateLimit.ipExempt);
    expect(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1'].map((a) => addresses.isExempt(a))).toEqual([true, true, true, true]);
    expect(['10.0.0.1', '::2', '::ffff:10.0.0.1'].map((a) => addresses.isExempt(a))).toEqual([false, false, false]);
  });

  test('a direct loopback client passes beyond the burst; through a proxy header, or with no exemption, it is limited', async () => {
    const exempt = await startIngress({ config: { rateLimit: { ipRequestsPerMinute: 60, ipBurst: 2, requestsPerMinute: 0 } } });
    const limited = await startIngress({ config: { rateLimit: { ipRequestsPerMinute: 60, ipBurst: 2, requestsPerMinute: 0, ipExempt: [] } } });
    try {
      const codes = async (h: Harness, headers: Record<string, string> = {}) => {
        const out: number[] = [];
        for (let i = 0; i < 4; i++) out.push((await h.inject({ url: '/events', headers, payload: productEvent(i, 'ip-user', { event_id: randomUUID() }) })).statusCode);
        return out;
      };
      expect(await codes(exempt)).toEqual([202, 202, 202, 202]);
      // A proxied request may be anyone's (and with TRUST_PROXY a client could name 127.0.0.1 itself).
      expect(await codes(exempt, { 'x-forwarded-for': '127.0.0.1' })).toEqual([202, 202, 429, 429]);
      expect(await codes(limited)).toEqual([202, 202, 429, 429]);
    } finally {
      await exempt.close();
      await limited.close();
    }
  });
});

describe('in-flight budget counts streamed bytes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startIngress({ config: { maxInFlightBytes: 128 * 1024 } });
  });
  afterAll(async () => {
    await h.close();
  });

  /** Sends a body in chunks without Content-Length (Transfer-Encoding: chunked). */
  const chunked = (body: Buffer) =>
    new Promise<{ statusCode: number; body: string; retryAfter?: string }>((resolve, reject) => {
      const req = http.request(new URL('/events/bulk', h.baseUrl), { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), retryAfter: res.headers['retry-after'] as string | undefined }));
      });
      req.on('error', reject);
      for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
      req.end();
    });

  const bulkBody = (events: number) =>
    Buffer.from(JSON.stringify(Array.from({ length: events }, (_, i) => productEvent(i, 'stream-user', { event_id: randomUUID(), properties: { pad: 'p'.repeat(900) } }))));

  test('a chunked body is charged its real size: refused with 503 when other requests hold the budget (it reserved 16 KB whatever its size)', async () => {
    // Another request holds 100 KB of the 128 KB budget: its headers are in, its body is not.
    const holder = http.request(new URL('/events', h.baseUrl), { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(100 * 1024) } });
    holder.on('error', () => undefined);
    holder.write('{');
    try {
      await waitFor(() => h.app.ingress.budget.bytes >= 100 * 1024, 5000, 'the holder to reserve its bytes');
      const body = bulkBody(300); // ~330 KB
      const refused = await chunked(body);
      expect(refused.statusCode).toBe(503);
      expect(refused.retryAfter).toBe('1');
      expect(JSON.parse(refused.body).error).toMatch(/overloaded/);
    } finally {
      holder.destroy();
    }
    await waitFor(() => h.app.ingress.budget.bytes === 0, 5000, 'the budget to be released');
    // Alone in flight, the same chunked body may exceed the budget, as one Content-Length body may.
    const alone = await chunked(bulkBody(300));
    expect(alone.statusCode).toBe(202);
    expect(h.app.ingress.budget.bytes).toBe(0);
  });

  test('a gzip body is charged its inflated size, not its Content-Length', async () => {
    const holder = http.request(new URL('/events', h.baseUrl), { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(100 * 1024) } });
    holder.on('error', () => undefined);
    holder.write('{');
    try {
      await waitFor(() => h.app.ingress.budget.bytes >= 100 * 1024, 5000, 'the holder to reserve its bytes');
      const gzipped = zlib.gzipSync(bulkBody(300)); // ~330 KB of JSON in a few KB
      expect(gzipped.length).toBeLessThan(20 * 1024);
      const refused = await h.inject({ url: '/events/bulk', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipped });
      expect(refused.statusCode).toBe(503);
    } finally {
      holder.destroy();
    }
    await waitFor(() => h.app.ingress.budget.bytes === 0, 5000, 'the budget to be released');
    const alone = await h.inject({ url: '/events/bulk', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: zlib.gzipSync(bulkBody(300)) });
    expect(alone.statusCode).toBe(202);
  });
});
