import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { planMemory } from '../../config/index.js';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { startAnalytics, type AnalyticsRuntime } from '../../sink/index.js';
import { tempDir } from '../support/temp-dir.js';

/** MEMORY_LIMIT_MB reaches chDB through the sink's own start (startAnalytics), as in a sink thread. */
describe('startAnalytics opens chDB under the memory plan', () => {
  const dir = tempDir('memory-wiring');
  let log: EmbeddedLog;
  let runtime: AnalyticsRuntime | undefined;

  beforeAll(async () => {
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic('events.raw', { partitions: 1 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('with MEMORY_LIMIT_MB=1024 the engine runs with that plan\'s max_memory_usage and max_server_memory_usage', async () => {
    runtime = await startAnalytics({
      env: { MEMORY_LIMIT_MB: '1024' },
      dataDir: dir,
      log,
      registry: new Registry(),
      logger: pino({ level: 'silent' }),
      topics: { rawEvents: 'events.raw' },
    });
    const plan = planMemory(1024).chdb;
    const [query] = await runtime.store.query<{ value: string }>("SELECT value FROM system.settings WHERE name = 'max_memory_usage'");
    const [server] = await runtime.store.query<{ value: string }>("SELECT value FROM system.server_settings WHERE name = 'max_server_memory_usage'");
    expect(Number(query!.value)).toBe(plan.maxMemoryUsageBytes);
    expect(Number(server!.value)).toBe(plan.maxServerMemoryUsageBytes);
    expect(plan.maxMemoryUsageBytes).not.toBe(planMemory(512).chdb.maxMemoryUsageBytes);
  });
});
