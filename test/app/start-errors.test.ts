import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { explainStartError } from '../../app/StartErrors.js';
import { readInteger } from '../../config/index.js';

/** Issue 21 item 5: every fatal start error is one line naming the cause and the fix. */
describe('fatal start errors', () => {
  const capture = (fn: () => unknown): unknown => {
    try {
      fn();
    } catch (error) {
      return error;
    }
    throw new Error('expected a throw');
  };

  test('a bad setting names the variable and where the settings are documented', () => {
    const error = capture(() => readInteger({ PORT: 'eighty' }, 'PORT', 8080));
    expect(explainStartError(error, {})).toBe('configuration error: PORT="eighty" is not an integer: correct it (docs/CONFIG.md lists every setting with its default)');
  });

  test('a port in use names the address and the setting to change', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    const second = net.createServer();
    const error = await new Promise<unknown>((resolve) => {
      second.once('error', resolve);
      second.listen(port, '127.0.0.1');
    });
    holder.close();
    const line = explainStartError(error, { PORT: String(port), HOST: '127.0.0.1' });
    expect(line).toBe(`127.0.0.1:${port} is already in use by another process (another streamline?): stop it, or set PORT (ADMIN_PORT for the admin listener) to a free port`);
  });

  test('a state store locked by another process, a full disk, an unwritable DATA_DIR, a broker that does not answer', () => {
    const locked = new Error('Database is not open', { cause: new Error('IO error: While lock file: /srv/data/log/LOCK: Resource temporarily unavailable') });
    expect(explainStartError(locked, { DATA_DIR: '/srv/data' })).toBe(
      '/srv/data/log is locked by another process (another streamline on DATA_DIR=/srv/data?): stop that process, or give this one its own DATA_DIR',
    );
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(explainStartError(full, { DATA_DIR: '/srv/data' })).toMatch(/^no space left on the device holding DATA_DIR=\/srv\/data: free some space, or set DATA_DIR/);
    const denied = Object.assign(new Error("EACCES: permission denied, mkdir '/srv/data/state'"), { code: 'EACCES', syscall: 'mkdir', path: '/srv/data/state' });
    expect(explainStartError(denied, { DATA_DIR: '/srv/data' })).toBe(
      'DATA_DIR=/srv/data is not writable (EACCES on /srv/data/state): fix its owner or permissions, or set DATA_DIR to a writable directory',
    );
    const noBroker = new AggregateError([new Error('Connection to 127.0.0.1:9092 failed.')], 'Cannot connect to any broker.');
    expect(explainStartError(noBroker, { KAFKA_BROKERS: '127.0.0.1:9092' })).toBe(
      'no Kafka broker answers at 127.0.0.1:9092: start one with `npm run kafka`, or unset KAFKA_BROKERS for embedded mode',
    );
  });

  test('npm start on a port in use exits 1 with that one line', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-start-error-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts'], {
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', KAFKA_BROKERS: '', REDIS_URL: '', CLICKHOUSE_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      const fatal = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((entry) => entry.level === 60);
      expect(fatal.map((entry) => entry.msg)).toEqual([`127.0.0.1:${port} is already in use by another process (another streamline?): stop it, or set PORT (ADMIN_PORT for the admin listener) to a free port`]);
    } finally {
      holder.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
