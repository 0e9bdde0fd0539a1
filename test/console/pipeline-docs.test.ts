import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';

/**
 * The process as `npm start` composes it (app/Service.ts) documents every route it serves:
 * nothing in its /openapi.json is x-undocumented, and the dashboard is there.
 */
describe('the composed service (startService) serves the console', () => {
  let dataDir: string;
  let pipeline: RunningService;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-pipeline-docs-'));
    pipeline = await startService({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, pino({ level: 'warn' }));
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('/openapi.json on the admin listener describes every route of both; /dashboard and /docs answer there, not on the public one', async () => {
    for (const route of ['/openapi.json', '/dashboard', '/docs']) expect({ route, status: (await fetch(`${pipeline.address}${route}`)).status }).toEqual({ route, status: 404 });
    const response = await fetch(`${pipeline.adminAddress}/openapi.json`);
    if (response.status === 404) throw new Error('app/Service.ts does not register the console: register the console on the admin listener (app/Listeners.ts, app/AdminServer.ts)');
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { paths: Record<string, Record<string, { 'x-undocumented'?: boolean }>> };
    const undocumented = Object.entries(doc.paths).flatMap(([route, ops]) => Object.entries(ops).filter(([, op]) => op['x-undocumented']).map(([method]) => `${method.toUpperCase()} ${route}`));
    expect(undocumented).toEqual([]);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/events', '/api/v1/collect', '/api/v1/events/attempt', '/topology', '/dashboard']));
    expect((await fetch(`${pipeline.adminAddress}/dashboard`)).status).toBe(200);
    expect((await fetch(`${pipeline.adminAddress}/docs`)).status).toBe(200);
  });
});
