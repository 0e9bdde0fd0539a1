import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createClient, ClickHouseLogLevel, ClickHouseError } from '@clickhouse/client';

/**
 * The service as `npm start` runs it (app/main.ts in its own process, embedded defaults), with
 * @clickhouse/client pointed at the address it logs: events posted to the public port are read
 * back through the ClickHouse interface, a write is refused, and SIGTERM stops it cleanly.
 */
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('npm start serves the read-only ClickHouse interface', () => {
  let dataDir: string;
  let child: ChildProcess;
  let listening: { address: string; queryAddress: string };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-query-process-'));
    child = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'app/main.ts')], {
      cwd: repo,
      env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SINK_BATCH_LINGER: '50ms', CLICKHOUSE_HTTP_USERS: 'analyst:pw' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    listening = await new Promise((resolve, reject) => {
      const lines = readline.createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        const entry = JSON.parse(line) as { msg?: string; address?: string; queryAddress?: string };
        if (entry.msg === 'streamline listening') resolve({ address: entry.address!, queryAddress: entry.queryAddress! });
      });
      child.once('exit', (code) => reject(new Error(`the service exited with ${code} before listening`)));
    });
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('events posted to the public port are read back through the ClickHouse interface; SIGTERM exits 0', async () => {
    expect(listening.queryAddress).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createClient({ url: listening.queryAddress, username: 'analyst', password: 'pw', log: { level: ClickHouseLogLevel.OFF } });
    const now = Date.now();
    for (let i = 0; i < 40; i++) {
      const response = await fetch(`${listening.address}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_name: 'q15_process', channel: 'web', user_id: `u${i % 4}`, timestamp: now - i, event_id: `p-${i}` }),
      });
      expect(response.status).toBe(202);
    }
    const count = async () =>
      Number((await (await client.query({ query: "SELECT count() AS n FROM events_raw WHERE event_name = 'q15_process'", format: 'JSONEachRow' })).json<{ n: number }>())[0]!.n);
    const deadline = Date.now() + 120_000;
    while ((await count()) !== 40) {
      if (Date.now() > deadline) throw new Error('timed out waiting for 40 events');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const refused = await client.command({ query: 'TRUNCATE TABLE events_raw' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ClickHouseError);
    expect((refused as ClickHouseError).type).toBe('READONLY');
    expect(await count()).toBe(40);
    await client.close();

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 240_000);
});
