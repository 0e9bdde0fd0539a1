import { afterEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { readAppConfig, withDataDirDefaults } from '../../app/AppConfig.js';
import { StartSequence } from '../../app/StartSequence.js';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { readPipelineConfig } from '../../processors/index.js';

/**
 * Issue 21 item 6: on the embedded log the start no longer waits for the sink (chDB's engine and
 * migrations): start() returns once the topology runs, GET /ready's "clickhouse" check waits for
 * the sink, and a sink that cannot start rejects `done` (fatal for the process, app/main.ts).
 */
describe('StartSequence on the embedded log: the sink starts in the background', () => {
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function sequenceFor(extraEnv: Record<string, string>): Promise<{ sequence: StartSequence; log: EmbeddedLog }> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-seq-sink-'));
    dirs.push(dataDir);
    const rawEnv = { DATA_DIR: dataDir, ROLES: 'topology,sink', KAFKA_BROKERS: '', CLICKHOUSE_URL: '', ...extraEnv };
    const config = readAppConfig(rawEnv);
    const env = withDataDirDefaults(rawEnv, config);
    const log = await openEmbeddedLog({ dir: path.join(dataDir, 'log') });
    const pipelineConfig = readPipelineConfig(env);
    const sequence = await StartSequence.create({ config, env, log, logger: pino({ level: 'silent' }), registry: new Registry(), pipelineConfig, landingPartitions: 2 });
    cleanups.push(async () => {
      await sequence.stop();
      await log.close();
    });
    return { sequence, log };
  }

  test('start() returns with the topology running; done resolves once the sink runs, then /ready checks pass', async () => {
    const { sequence } = await sequenceFor({});
    await sequence.start();
    expect(sequence.streams!.state).toBe('RUNNING');
    await sequence.done;
    expect(sequence.analytics).toBeDefined();
    // The topology check passes once the first assignment's tasks are set up (test/topology/task-setup).
    await sequence.streams!.whenAssigned();
    const checks = sequence.readinessChecks();
    expect(checks.map((c) => c.name)).toEqual(['topology', 'clickhouse']);
    for (const check of checks) expect(await check.check()).toBe(true);
    expect(sequence.waitingFor()).toBeUndefined();
  }, 60_000);

  test('a sink that cannot start rejects done, not start(); stop() still closes the topology', async () => {
    const blocker = fs.mkdtempSync(path.join(os.tmpdir(), 'start-seq-blocker-'));
    dirs.push(blocker);
    const notADirectory = path.join(blocker, 'file');
    fs.writeFileSync(notADirectory, 'x');
    const { sequence } = await sequenceFor({ CHDB_PATH: path.join(notADirectory, 'chdb') });
    await sequence.start();
    await expect(sequence.done).rejects.toThrow();
    expect(sequence.analytics).toBeUndefined();
    await sequence.stop();
    expect(sequence.streams!.state).not.toBe('RUNNING');
  }, 60_000);
});
