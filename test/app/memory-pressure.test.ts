import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { MemoryPressure } from '../../app/MemoryPressure.js';
import { DEFAULT_MEMORY_LIMIT_MB, planMemory, readMemoryPlan } from '../../config/index.js';
import { buildIngress } from '../../ingress/BuildIngress.js';
import { ingressConfig } from '../../ingress/IngressConfig.js';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { send } from '../ingress/ingress-harness.js';

const event = (i: number) => ({ event_id: `mem-${i}`, event_name: 'product_view', channel: 'web', user_id: 'user-1', timestamp: 1708732800000 + i });

describe('memory budget (MEMORY_LIMIT_MB)', () => {
  let dir: string;
  let log: EmbeddedLog;
  let app: FastifyInstance | undefined;
  let pressure: MemoryPressure | undefined;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memory-pressure-'));
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
  });

  afterEach(async () => {
    pressure?.stop();
    await app?.close();
    app = undefined;
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A real ingress with the pressure hook on its listener, as the service wires it. */
  async function start(memory: MemoryPressure, registry: Registry): Promise<string> {
    const config = ingressConfig({ spool: { ...ingressConfig().spool, dir: path.join(dir, 'spool') } });
    app = await buildIngress({ log, config, registry, logger: pino({ level: 'silent' }) });
    app.addHook('onRequest', memory.hook());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  test('a budget below the current RSS: ingest requests are refused with 503 + Retry-After, health still answers', async () => {
    const registry = new Registry();
    // One byte: the process's real RSS is over it at the first sample.
    pressure = new MemoryPressure({ refuseAboveBytes: 1, resumeBelowBytes: 1, retryAfterSeconds: 2, registry }).start();
    expect(pressure.refusing).toBe(true);
    const base = await start(pressure, registry);

    const single = await send(base, { url: '/events', payload: event(1) });
    expect(single.statusCode).toBe(503);
    expect(single.headers['retry-after']).toBe('2');
    const bulk = await send(base, { url: '/events/bulk', payload: [event(2), event(3)] });
    expect(bulk.statusCode).toBe(503);
    expect(bulk.headers['retry-after']).toBe('2');

    // Nothing refused reached the log.
    expect(await log.listTopics()).not.toContain('events.landing');
    // Liveness and metrics are reads: they keep answering while intake is refused.
    expect((await send(base, { method: 'GET', url: '/health' })).statusCode).toBe(200);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/streamline_memory_pressure_refusals_total 2/);
    expect(metrics).toMatch(/streamline_memory_pressure 1/);
    // The first request joined the check to the ingress's admission: the second was refused there, before fastify read it.
    expect(metrics).toMatch(/streamline_ingress_admission_refusals_total\{reason="memory_budget"\} 1/);
  });

  test('intake resumes once RSS falls below the resume line (hysteresis between the two lines)', async () => {
    let rss = 600;
    pressure = new MemoryPressure({ refuseAboveBytes: 500, resumeBelowBytes: 400, readRss: () => rss });
    const base = await start(pressure, new Registry());
    expect((await send(base, { url: '/events', payload: event(1) })).statusCode).toBe(503);
    rss = 450; // under the refuse line, above the resume line: still refusing
    pressure.sample();
    expect((await send(base, { url: '/events', payload: event(2) })).statusCode).toBe(503);
    rss = 399;
    pressure.sample();
    const accepted = await send(base, { url: '/events', payload: event(3) });
    expect(accepted.statusCode).toBeLessThan(300);
    rss = 450; // back over the resume line but under the refuse line: still accepting
    pressure.sample();
    expect((await send(base, { url: '/events', payload: event(4) })).statusCode).toBeLessThan(300);
  });

  test('memory retained after the work drained lets intake in again up to the budget, not past it', () => {
    let rss = 600;
    let drained = false;
    pressure = new MemoryPressure({ refuseAboveBytes: 500, resumeBelowBytes: 400, limitBytes: 520, readRss: () => rss, backlog: () => (drained ? 0 : 1) });
    expect(pressure.refusing).toBe(true);
    rss = 510; // under the budget, over the resume line, work still queued: refusing
    pressure.sample();
    pressure.sample();
    expect(pressure.refusing).toBe(true);
    drained = true; // the work drained and RSS stays (retained pages): one sample is not enough
    pressure.sample();
    expect(pressure.refusing).toBe(true);
    pressure.sample();
    expect(pressure.refusing).toBe(false);
    rss = 515; // retained memory between the refuse line and the budget: accepting
    pressure.sample();
    expect(pressure.refusing).toBe(false);
    rss = 520; // at the budget itself: refusing again, and drained or not, never past it
    pressure.sample();
    expect(pressure.refusing).toBe(true);
    pressure.sample();
    pressure.sample();
    expect(pressure.refusing).toBe(true);
    rss = 399; // under the resume line: the usual lines again
    pressure.sample();
    expect(pressure.refusing).toBe(false);
    rss = 505;
    pressure.sample();
    expect(pressure.refusing).toBe(true);
  });

  test('the accepted backlog counts at its expected memory: refused before RSS reaches the line, accepted again as it drains', () => {
    let rss = 400;
    let backlog = 0;
    pressure = new MemoryPressure({ refuseAboveBytes: 500, resumeBelowBytes: 450, limitBytes: 520, readRss: () => rss, backlog: () => backlog, backlogRecordBytes: 2 });
    expect(pressure.refusing).toBe(false);
    backlog = 40; // 400 + 40 x 2 = 480: under the line
    pressure.sample();
    expect(pressure.refusing).toBe(false);
    backlog = 50; // 400 + 100 = 500: at the line although RSS alone is far under it
    pressure.sample();
    expect(pressure.refusing).toBe(true);
    expect(pressure.readinessCheck().waitingFor?.()).toMatch(/RSS 0 MB \(0 MB with the accepted backlog\)/);
    backlog = 30; // 460: under the refuse line but over the resume line: still refusing
    pressure.sample();
    expect(pressure.refusing).toBe(true);
    backlog = 20; // 440: under the resume line
    pressure.sample();
    expect(pressure.refusing).toBe(false);
    // Drained with RSS retained between the lines: accepted up to the budget, the backlog counted there too.
    rss = 505;
    backlog = 0;
    pressure.sample();
    expect(pressure.refusing).toBe(true);
    pressure.sample();
    pressure.sample();
    expect(pressure.refusing).toBe(false);
    backlog = 7; // 505 + 14 = 519: under the budget
    pressure.sample();
    expect(pressure.refusing).toBe(false);
    backlog = 8; // 521: the backlog would carry it past the budget
    pressure.sample();
    expect(pressure.refusing).toBe(true);
  });

  test('the plan divides MEMORY_LIMIT_MB and refuses settings below the minimum', () => {
    // From 768 MB up the planned parts fit under the refusal line (85%); below it the plan's floors
    // (chDB's 32 MB, the log's 16 MB write buffer, per-store minimums) take more than the line leaves.
    for (const limitMb of [768, DEFAULT_MEMORY_LIMIT_MB]) expectPartsUnderTheLine(planMemory(limitMb));
    const plan = planMemory(512);
    expect(plan.pressure.refuseAboveBytes).toBeLessThan(plan.limitBytes);
    expect(planMemory(2048).stores.readCacheEntries).toBeGreaterThan(plan.stores.readCacheEntries);
    expect(readMemoryPlan({}).limitBytes).toBe(DEFAULT_MEMORY_LIMIT_MB * 1024 * 1024);
    expect(() => readMemoryPlan({ MEMORY_LIMIT_MB: '100' })).toThrow(/MEMORY_LIMIT_MB=100 is out of range/);
  });
});

function expectPartsUnderTheLine(plan: ReturnType<typeof planMemory>): void {
  const stores = 86;
  // Write buffers in steady state: 2 of budget / 4 (see config/MemoryPlan.ts).
  const rocksdbStores = stores * (plan.stores.blockCacheBytes + plan.stores.memtableBudgetBytes * 0.5);
  const readCaches = stores * plan.stores.readCacheEntries * 512;
  const keyFilters = stores * plan.stores.keyFilterBytes;
  const log = plan.log.blockCacheBytes + plan.log.memtableBudgetBytes * 0.5;
  const parts = plan.baseBytes + rocksdbStores + readCaches + keyFilters + log + plan.ingressInFlightBytes + plan.sinkBatchBytes + plan.chdb.maxMemoryUsageBytes;
  // The planned parts fit under the refusal line (what is left is headroom for garbage).
  expect(parts).toBeLessThan(plan.pressure.refuseAboveBytes);
}
