import { afterEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { FaultyLog } from './FaultyLog.js';
import { type Harness, productEvent, startIngress, waitFor } from './ingress-harness.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * The real EmbeddedLog behind a fault-injecting decorator: the breaker opens, events go to the
 * disk spool (still 2xx), and once the log is back they are drained in order, none lost or
 * doubled.
 */
describe('ingress when the log fails', () => {
  let h: Harness | undefined;
  let faulty: FaultyLog;
  const dirs: string[] = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (config: Parameters<typeof startIngress>[0] = {}) =>
    startIngress({
      ...config,
      wrapLog: (log) => (faulty = new FaultyLog(log)),
      config: { breaker: { threshold: 2, timeoutMs: 100, maxRequests: 1 }, produceTimeoutMs: 2000, ...config.config },
    });

  test('breaker opens, events are spooled and answered 202, then drained in order exactly once', async () => {
    h = await start();
    for (let i = 0; i < 10; i++) {
      const res = await h.inject({ url: '/events', payload: productEvent(i) });
      expect(res.statusCode).toBe(202);
    }
    faulty.down = true;
    for (let i = 10; i < 60; i++) {
      const res = await h.inject({ url: '/events', payload: productEvent(i) });
      expect(res.statusCode).toBe(202);
    }
    // Concurrent requests from other users while down: all durable, all 2xx.
    const concurrent = await Promise.all(
      Array.from({ length: 40 }, (_, i) => h!.inject({ url: '/events', payload: productEvent(100 + i, `user-${2 + (i % 4)}`) })),
    );
    expect(concurrent.map((r) => r.statusCode)).toEqual(Array(40).fill(202));
    const collector = await h.inject({
      url: '/api/v1/collect',
      payload: [{ event_id: 'c-1', learner_id: 'user-1', tenant_id: 't', event_type: 'system', timestamp: '2024-01-15T10:30:00Z', source_service: 's' }],
    });
    expect(collector.statusCode).toBe(200);
    expect(collector.json()).toMatchObject({ buffered: true, kafka_partition: null });

    // Open, or half-open once the 100 ms timeout has passed: never closed while the log is down.
    expect(h.app.ingress.breaker.state).not.toBe('closed');
    expect(h.app.ingress.breaker.openCount).toBeGreaterThanOrEqual(1);
    expect(h.app.ingress.spool.records).toBeGreaterThanOrEqual(91);
    const health = await h.inject({ url: '/api/v1/health' });
    expect(health.json()).toMatchObject({ status: 'degraded', kafka_connected: false });
    expect(health.json().buffer_status.buffered_events).toBeGreaterThanOrEqual(91);
    const prom = await h.inject({ url: '/metrics' });
    expect(prom.body).toMatch(/streamline_ingress_events_spooled_total [1-9]\d*/);
    expect(prom.body).toMatch(/streamline_ingress_spool_bytes [1-9]\d*/);

    faulty.down = false;
    await waitFor(() => h!.app.ingress.spool.isEmpty() && !h!.app.ingress.writer.isDraining, 10_000, 'spool drained');
    // New events after recovery go straight to the log again.
    expect((await h.inject({ url: '/events', payload: productEvent(200) })).statusCode).toBe(202);
    expect(h.app.ingress.breaker.state).toBe('closed');

    const envelopes = await h.envelopes();
    const ids = envelopes.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(10 + 50 + 40 + 1 + 1);
    const user1 = envelopes.filter((e) => e.source === 'product' && e.payload.user_id === 'user-1').map((e) => e.event_id);
    expect(user1).toEqual([...Array.from({ length: 60 }, (_, i) => `evt-${i}`), 'evt-200']);
    expect(faulty.failedCalls).toBeGreaterThan(0);
  });

  test('a full spool answers 503 + Retry-After and writes nothing of the refused request; its id is not burnt', async () => {
    h = await start({ config: { spool: { maxBytes: 4096 } } });
    faulty.down = true;
    const accepted: string[] = [];
    let refused: { id: string; retryAfter: string | undefined; body: unknown } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await h.inject({ url: '/events', payload: productEvent(i) });
      if (res.statusCode === 202) accepted.push(`evt-${i}`);
      else {
        expect(res.statusCode).toBe(503);
        refused = { id: `evt-${i}`, retryAfter: res.headers['retry-after'] as string | undefined, body: res.json() };
      }
    }
    expect(refused).toBeDefined();
    expect(Number(refused!.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused!.body).toEqual({ error: expect.stringMatching(/spool is full/) });
    expect(accepted.length).toBeGreaterThan(5);
    const ready = await h.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(503);

    faulty.down = false;
    await waitFor(() => h!.app.ingress.spool.isEmpty() && !h!.app.ingress.writer.isDraining, 10_000, 'spool drained');
    const retry = await h.inject({ url: '/events', payload: productEvent(Number(refused!.id.slice(4))) });
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['x-duplicate']).toBeUndefined();
    const ids = (await h.envelopes()).map((e) => e.event_id);
    expect(ids).toEqual([...accepted, refused!.id]);
  });

  test('spooled events survive a restart (with a torn tail entry) and drain in order on the next start', async () => {
    const dir = tempDir('ingress-restart');
    dirs.push(dir);
    h = await start({ dir });
    faulty.down = true;
    for (let i = 0; i < 30; i++) expect((await h.inject({ url: '/events', payload: productEvent(i) })).statusCode).toBe(202);
    expect(h.app.ingress.spool.records).toBe(30);
    await h.close();
    // A crash mid-append leaves a torn entry at the tail of the last segment.
    const spoolDir = path.join(dir, 'spool');
    const last = fs.readdirSync(spoolDir).filter((name) => name.endsWith('.spool')).sort().pop()!;
    const bytes = fs.readFileSync(path.join(spoolDir, last));
    fs.appendFileSync(path.join(spoolDir, last), bytes.subarray(0, 20));

    h = await startIngress({ dir });
    expect(h.app.ingress.spool.recovery).toMatchObject({ records: 30, corruptEntries: 1 });
    await waitFor(() => h!.app.ingress.spool.isEmpty() && !h!.app.ingress.writer.isDraining, 10_000, 'spool drained after restart');
    const ids = (await h.envelopes()).map((e) => e.event_id);
    expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => `evt-${i}`));
  });

  test('a poison record a healthy log keeps refusing is isolated to the DLQ; the rest drain in order', async () => {
    h = await start();
    faulty.down = true;
    for (let i = 0; i < 10; i++) expect((await h.inject({ url: '/events', payload: productEvent(i) })).statusCode).toBe(202);
    faulty.poison = (record) => record.topic === h!.config.landingTopic && record.value!.toString().includes('"evt-4"');
    faulty.down = false;
    await waitFor(() => h!.app.ingress.spool.isEmpty() && !h!.app.ingress.writer.isDraining, 20_000, 'spool drained past the poison record');
    expect((await h.envelopes()).map((e) => e.event_id)).toEqual(['evt-0', 'evt-1', 'evt-2', 'evt-3', 'evt-5', 'evt-6', 'evt-7', 'evt-8', 'evt-9']);
    const dlq = await h.records(h.config.dlqTopic);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers).toMatchObject({ original_topic: h.config.landingTopic, dlq_reason: expect.stringMatching(/MESSAGE_TOO_LARGE/) });
    expect(JSON.parse(dlq[0]!.value!.toString()).event_id).toBe('evt-4');
  });

  test('a slow log fills the in-flight budget: excess requests get 503 + Retry-After, the rest 202', async () => {
    h = await start({ config: { maxInFlightBytes: 1500 } });
    faulty.delayMs = 200;
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => h!.inject({ url: '/events', payload: productEvent(i, `u${i}`) })));
    const codes = replies.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 202).length).toBeGreaterThan(0);
    const shed = replies.filter((r) => r.statusCode === 503);
    expect(shed.length).toBeGreaterThan(0);
    expect(shed.every((r) => Number(r.headers['retry-after']) >= 1)).toBe(true);
    expect(codes.every((c) => c === 202 || c === 503)).toBe(true);
    expect(h.app.ingress.budget.bytes).toBe(0);
    const written = (await h.envelopes()).length;
    expect(written).toBe(codes.filter((c) => c === 202).length);
  });
});
