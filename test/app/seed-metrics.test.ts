import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { call } from './support/http-client.js';

/**
 * Issue 20 part 1: `npm start` (startService, embedded defaults, a temp DATA_DIR), a few seed 000
 * attempts, then GET /metrics/prometheus carries seed 002's seven metric names, and
 * events_processed_total and processing_duration_seconds move with the traffic.
 */
const SEED_002_NAMES = [
  'events_processed_total',
  'events_enriched_total',
  'events_filtered_total',
  'events_deduplicated_total',
  'processing_duration_seconds',
  'enrichment_cache_hit_ratio',
  'worker_utilization_percent',
];

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('seed 002 metrics on /metrics/prometheus', () => {
  let pipeline: RunningService;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-seed-metrics-'));
    // No sink: chDB allows one engine per process, and these metrics are the topology's.
    pipeline = await startService({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ROLES: 'ingress,topology', LOG_LEVEL: 'warn', ADMIN_PORT: '0' }, pino({ level: 'warn' }));
    await pipeline.started;
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const scrape = async () => {
    const answer = await call(pipeline.address, '/metrics/prometheus');
    expect(answer.status).toBe(200);
    return answer.text;
  };

  test('all seven names are series; processed and duration move with seed 000 attempts', async () => {
    const before = await scrape();
    for (const name of SEED_002_NAMES) expect(before).toContain(`# TYPE ${name} `);
    expect(before).toContain('# TYPE processing_duration_seconds histogram');
    expect(value(before, 'events_processed_total{event_type="attempt"}')).toBe(0);
    expect(value(before, 'processing_duration_seconds_count')).toBe(0);

    for (let i = 0; i < 3; i++) {
      const answer = await call(pipeline.address, '/api/v1/events/attempt', {
        body: { user_id: `u-metrics-${i}`, item_id: `item-${i}`, session_id: 's-1', client_attempt_id: `attempt-${i}`, correct: i % 2 === 0, time_taken_ms: 4000 + i },
      });
      expect(answer.status).toBeLessThan(300);
    }
    // Seed 002 counts what the topology processed: wait for commits until all three are in.
    // The topology's commits come from its stream threads (app/threads/).
    const streams = pipeline.threads ?? pipeline.streams!;
    let after = await scrape();
    while (value(after, 'events_processed_total{event_type="attempt"}') < 3) {
      await once(streams, 'commit');
      after = await scrape();
    }
    expect(value(after, 'events_processed_total{event_type="attempt"}')).toBe(3);
    expect(value(after, 'processing_duration_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(value(after, 'processing_duration_seconds_sum')).toBeGreaterThan(0);
    expect(value(after, 'processing_duration_seconds_bucket{le="+Inf"}')).toBe(value(after, 'processing_duration_seconds_count'));
    // No users table rows were loaded: every user lookup missed.
    expect(value(after, 'enrichment_cache_hit_ratio{table="users"}')).toBe(0);
    expect(after).toMatch(/^worker_utilization_percent\{thread="0"\} \d/m);
    // Beside the streamline_* families, not instead of them.
    expect(after).toContain('streamline_topology_records_processed_total');
  }, 60_000);
});
