/**
 * Issue 20 part 5: `streamline reprocess` and `backfill` refuse while the service runs (embedded:
 * the running service holds the log's RocksDB lock), and change nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService } from '../../app/Service.js';
import { streamline } from './reprocess-scenario.js';

test('reprocess and backfill refuse while the service runs on the same DATA_DIR, and change nothing', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-reprocess-refusal-'));
  const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ADMIN_PORT: 'off', CLICKHOUSE_HTTP_PORT: 'off', ROLES: 'ingress,topology' };
  const service = await startService(env, pino({ level: 'silent' }));
  try {
    await service.started;
    const accepted = await fetch(`${service.address}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event_name: 'refusal_probe', channel: 'web', user_id: 'u1', timestamp: Date.now(), event_id: 'refusal-1' }),
    });
    expect(accepted.status).toBe(202);
    const landed = async () => (await Promise.all([0, 1, 2, 3].map((partition) => service.log.endOffset({ topic: 'events.raw', partition })))).reduce((a, b) => a + b, 0);
    const landedBefore = await landed();

    const reprocess = await streamline(['reprocess', '--from', 'earliest', '--yes'], { DATA_DIR: dataDir });
    expect(reprocess.code).not.toBe(0);
    expect(reprocess.stderr).toMatch(/running|in use|lock|stop/i);
    const backfill = await streamline(['backfill', '--aggregator', 'user_hourly_attempts', '--yes'], { DATA_DIR: dataDir });
    expect(backfill.code).not.toBe(0);
    expect(backfill.stderr).toMatch(/running|in use|lock|stop/i);

    // The service still runs on its log, with everything it had.
    const landedAfter = await landed();
    expect(landedAfter).toBe(landedBefore);
    expect((await fetch(`${service.address}/ready`)).status).toBe(200);
  } finally {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);
