/**
 * Issue 13 part 3: past MAX_TOPOLOGY_LAG unprocessed landing records, intake answers 503 +
 * Retry-After and /ready says why; below three quarters of the bound it accepts again. On a real embedded
 * log: the lag is what the landing topic holds past the group's committed offsets.
 */
import Fastify from 'fastify';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { buildIngress } from '../../ingress/BuildIngress.js';
import { ingressConfig } from '../../ingress/IngressConfig.js';
import { readMaxTopologyLag, TopologyBackpressure } from '../../app/TopologyBackpressure.js';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';

const LANDING = 'events.raw';
const GROUP = 'streamline';

describe('TopologyBackpressure', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-backpressure-'));
    log = await openEmbeddedLog({ dir });
    await log.ensureTopic(LANDING, { partitions: 2 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const append = (n: number, partition: number) =>
    log.produce(Array.from({ length: n }, (_, i) => ({ topic: LANDING, partition, key: Buffer.from(`k${i}`), value: Buffer.from('{}') })));

  async function commitUpTo(offsets: Array<{ partition: number; offset: number }>): Promise<void> {
    const consumer = log.createConsumer({ groupId: GROUP, autoOffsetReset: 'earliest' });
    await consumer.subscribe([LANDING], { onAssigned: async () => undefined, onRevoked: async () => undefined });
    await consumer.commitOffsets(offsets.map(({ partition, offset }) => ({ topic: LANDING, partition, offset })));
    await consumer.close();
  }

  test('refuses intake with 503 + Retry-After over the bound, says why on /ready, accepts again under three quarters', async () => {
    const registry = new Registry();
    const guard = new TopologyBackpressure({ log, groupId: GROUP, landingTopic: LANDING, maxLag: 10, retryAfterSeconds: 2, registry });
    const http = Fastify();
    http.addHook('onRequest', guard.hook());
    http.post('/events', async () => ({ accepted: true }));
    http.put('/processor/filters', async () => ({ replaced: true }));
    http.get('/health', async () => ({ ok: true }));
    const address = await http.listen({ host: '127.0.0.1', port: 0 });
    const send = async (method: string, url: string) => {
      const response = await fetch(address + url, { method, ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }) });
      return { statusCode: response.status, headers: { 'retry-after': response.headers.get('retry-after') ?? undefined }, body: await response.text() };
    };

    await append(6, 0);
    await guard.sample();
    expect(guard.backlog).toBe(6);
    expect((await send('POST', '/events')).statusCode).toBe(200);

    await append(6, 1);
    await guard.sample();
    expect(guard.backlog).toBe(12);
    expect(guard.refusing).toBe(true);
    const refused = await send('POST', '/events');
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('2');
    expect(refused.body).toContain('12 events behind (MAX_TOPOLOGY_LAG=10)');
    // Reads and operators' routes keep answering.
    expect((await send('GET', '/health')).statusCode).toBe(200);
    expect((await send('PUT', '/processor/filters')).statusCode).toBe(200);
    const ready = guard.readinessCheck();
    expect(await ready.check()).toBe(false);
    expect(ready.waitingFor!()).toContain('12 events behind');
    expect(await registry.getSingleMetricAsString('streamline_topology_backlog_records')).toContain('streamline_topology_backlog_records 12');

    // Down to 8 (over three quarters of 10): still refused, no flapping at the line.
    await commitUpTo([{ partition: 0, offset: 4 }]);
    await guard.sample();
    expect(guard.backlog).toBe(8);
    expect(guard.refusing).toBe(true);

    // Down to 2: accepted again.
    await commitUpTo([{ partition: 0, offset: 6 }, { partition: 1, offset: 4 }]);
    await guard.sample();
    expect(guard.backlog).toBe(2);
    expect(guard.refusing).toBe(false);
    expect((await send('POST', '/events')).statusCode).toBe(200);
    expect(await ready.check()).toBe(true);
    expect(await registry.getSingleMetricAsString('streamline_topology_backpressure_refusals_total')).toContain('streamline_topology_backpressure_refusals_total 1');
    await guard.stop();
    await http.close();
  });

  test('on the ingress, the refusal comes from its admission, before fastify reads the request: the seed\'s shape, the event not counted, accepted once the topology catches up', async () => {
    const registry = new Registry();
    const guard = new TopologyBackpressure({ log, groupId: GROUP, landingTopic: LANDING, maxLag: 2, retryAfterSeconds: 3, registry });
    const config = ingressConfig({ landingTopic: LANDING, landingPartitions: 2, maxLoopDelayMs: 0, spool: { ...ingressConfig().spool, dir: path.join(dir, 'spool') } });
    const http = await buildIngress({ log, config, registry, logger: pino({ level: 'silent' }) });
    http.addHook('onRequest', guard.hook());
    const address = await http.listen({ host: '127.0.0.1', port: 0 });
    const post = async (id: string) => {
      const response = await fetch(address + '/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_id: id, event_name: 'product_view', channel: 'web', user_id: 'u1', timestamp: 1708732800000 }),
      });
      return { statusCode: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
    };
    try {
      for (const id of ['a', 'b', 'c']) expect((await post(id)).statusCode).toBe(202);
      await guard.sample();
      expect(guard.refusing).toBe(true);

      const refused = await post('d');
      expect(refused.statusCode).toBe(503);
      expect(refused.retryAfter).toBe('3');
      expect(JSON.parse(refused.body)).toEqual({ error: 'the pipeline is 3 events behind (MAX_TOPOLOGY_LAG=2); retry later' });
      expect(await registry.getSingleMetricAsString('streamline_ingress_admission_refusals_total')).toContain('{reason="topology_backlog"} 1');
      expect(await registry.getSingleMetricAsString('streamline_topology_backpressure_refusals_total')).toContain('streamline_topology_backpressure_refusals_total 1');
      expect(http.ingress.metrics.totals.received).toBe(3);

      await commitUpTo([
        { partition: 0, offset: await log.endOffset({ topic: LANDING, partition: 0 }) },
        { partition: 1, offset: await log.endOffset({ topic: LANDING, partition: 1 }) },
      ]);
      await guard.sample();
      expect(guard.refusing).toBe(false);
      expect((await post('d')).statusCode).toBe(202);
      expect(http.ingress.metrics.totals.accepted).toBe(4);
    } finally {
      await guard.stop();
      await http.close();
    }
  });

  /** Resolves once `condition` holds, checked every 5 ms (fails the test after 5 s). */
  async function until(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not met within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  test('while quiet (no backlog, no intake) the lag is not read every interval; the first intake request brings the next read', async () => {
    const guard = new TopologyBackpressure({ log, groupId: GROUP, landingTopic: LANDING, maxLag: 100, sampleIntervalMs: 5, quietSampleEvery: 1_000_000 });
    await guard.sample();
    expect(guard.backlog).toBe(0);
    guard.start();
    try {
      await append(5, 0);
      // Forty intervals: a reader of every interval would have seen the 5 records long since.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(guard.backlog).toBe(0);
      expect(guard.refusal()).toBeUndefined(); // an intake request
      await until(() => guard.backlog === 5);
      // A backlog is not quiet: it is read every interval until it is gone.
      await commitUpTo([{ partition: 0, offset: 5 }]);
      await until(() => guard.backlog === 0);
    } finally {
      await guard.stop();
    }
  });

  test('while quiet the lag is still read every quietSampleEvery intervals (another instance may feed the landing topic)', async () => {
    const guard = new TopologyBackpressure({ log, groupId: GROUP, landingTopic: LANDING, maxLag: 100, sampleIntervalMs: 5, quietSampleEvery: 4 });
    await guard.sample();
    guard.start();
    try {
      await append(3, 1);
      await until(() => guard.backlog === 3);
    } finally {
      await guard.stop();
    }
  });

  test('MAX_TOPOLOGY_LAG: default 20000, 0 turns it off, garbage is refused at start', () => {
    expect(readMaxTopologyLag({})).toBe(20_000);
    expect(readMaxTopologyLag({ MAX_TOPOLOGY_LAG: '0' })).toBe(0);
    expect(() => readMaxTopologyLag({ MAX_TOPOLOGY_LAG: 'lots' })).toThrow(/MAX_TOPOLOGY_LAG/);
  });
});
