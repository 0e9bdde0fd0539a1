/**
 * Issue 20 part 5: the embedded landing topic's retention is a setting (LANDING_RETENTION_MS,
 * LANDING_RETENTION_BYTES), so the history `streamline reprocess` replays is what the operator chose.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { ensurePipelineTopics, readPipelineConfig } from '../../processors/index.js';

describe('the landing topic retention settings', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-landing-retention-'));
    log = await openEmbeddedLog({ dir });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const landing = { topic: 'events.raw', partition: 0 };
  const append = (timestamps: number[]) => log.produce(timestamps.map((timestamp, i) => ({ ...landing, key: Buffer.from(`k${i}`), value: Buffer.from('{}'), timestamp })));

  test('LANDING_RETENTION_MS: records older than it are removed by the cleaner, newer ones stay', async () => {
    const config = readPipelineConfig({ LANDING_RETENTION_MS: '1h' });
    expect(config.landingRetention).toEqual({ retentionMs: 3_600_000 });
    await ensurePipelineTopics(log, config, 1);
    const now = Date.now();
    await append([now - 3 * 3_600_000, now - 2 * 3_600_000, now - 60_000, now]);
    await log.compactNow({ now });
    expect(await log.beginningOffset(landing)).toBe(2);
    expect((await log.read(landing, 0, 10)).map((r) => r.offset)).toEqual([2, 3]);
  });

  test('LANDING_RETENTION_BYTES bounds each partition; unset keeps everything; garbage is refused at start', async () => {
    await ensurePipelineTopics(log, readPipelineConfig({ LANDING_RETENTION_BYTES: '1' }), 1);
    const now = Date.now();
    await append([now, now, now]);
    await log.compactNow({ now });
    expect(await log.beginningOffset(landing)).toBeGreaterThan(0);
    expect(readPipelineConfig({}).landingRetention).toEqual({});
    expect(() => readPipelineConfig({ LANDING_RETENTION_MS: 'forever' })).toThrow(/LANDING_RETENTION_MS/);
    expect(() => readPipelineConfig({ LANDING_RETENTION_BYTES: '-5' })).toThrow(/LANDING_RETENTION_BYTES/);
  });
});
