import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { planMemory } from '../../config/index.js';
import { startService, type RunningService } from '../../app/Service.js';

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The service applies MEMORY_LIMIT_MB (issue 21 item 1): its pressure check refuses intake at the plan's line. */
describe('MEMORY_LIMIT_MB reaches the running service', () => {
  let pipeline: RunningService | undefined;
  let dataDir: string;

  afterEach(async () => {
    await pipeline?.stop();
    pipeline = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test.each([['400'], ['2048']])('with MEMORY_LIMIT_MB=%s the intake refusal line comes from its plan', async (limitMb) => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-memory-wiring-'));
    pipeline = await startService(
      { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ROLES: 'ingress,topology', LOG_LEVEL: 'warn', MEMORY_LIMIT_MB: limitMb, CLICKHOUSE_HTTP_PORT: 'off' },
      pino({ level: 'warn' }),
    );
    const plan = planMemory(Number(limitMb));
    const metrics = await (await fetch(`${pipeline.address}/metrics/prometheus`)).text();
    expect(metricValue(metrics, 'streamline_memory_limit_bytes')).toBe(plan.pressure.refuseAboveBytes);
    expect(metricValue(metrics, 'streamline_memory_pressure')).toBeDefined();
    // The check counts the accepted backlog at the plan's price (RSS alone when nothing is queued).
    expect(plan.pressure.backlogRecordBytes).toBeGreaterThan(0);
    expect(metricValue(metrics, 'streamline_memory_projected_bytes')).toBeGreaterThanOrEqual(metricValue(metrics, 'streamline_memory_rss_bytes')!);
  });
});
