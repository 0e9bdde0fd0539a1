/**
 * V8_HEAP_GROWING_PERCENT (config/HeapGrowing.ts, scripts/start.sh): how far a V8 heap grows past
 * what the last full GC left live, a V8 flag only the launcher can set. What node is given is read
 * from the launched process itself: a preloaded script prints node's execArgv and exits before
 * the service starts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_HEAP_GROWING_PERCENT, heapGrowingPercentInEffect, readHeapGrowingPercent } from '../../config/index.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('V8_HEAP_GROWING_PERCENT', () => {
  test('defaults to 200, takes 0 (V8 decides) to 1000, and names the variable when wrong', () => {
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(200);
    expect(readHeapGrowingPercent({})).toBe(200);
    expect(readHeapGrowingPercent({ V8_HEAP_GROWING_PERCENT: ' 50 ' })).toBe(50);
    expect(readHeapGrowingPercent({ V8_HEAP_GROWING_PERCENT: '0' })).toBe(0);
    expect(() => readHeapGrowingPercent({ V8_HEAP_GROWING_PERCENT: 'lots' })).toThrow(new ConfigError('V8_HEAP_GROWING_PERCENT="lots" is not an integer'));
    expect(() => readHeapGrowingPercent({ V8_HEAP_GROWING_PERCENT: '5000' })).toThrow(new ConfigError('V8_HEAP_GROWING_PERCENT=5000 is out of range [0, 1000]'));
    expect(heapGrowingPercentInEffect(['--heap-growing-percent=200'])).toBe(200);
    expect(heapGrowingPercentInEffect(['--max-old-space-size=512'])).toBeUndefined();
  });

  describe('npm start (scripts/start.sh)', () => {
    let dir: string;
    let preload: string;

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-heap-growing-'));
      preload = path.join(dir, 'print-exec-argv.cjs');
      fs.writeFileSync(preload, 'process.stdout.write(JSON.stringify(process.execArgv)); process.exit(0);\n');
    });

    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** How `sh scripts/start.sh` started node under `setting` (undefined: unset). */
    const launch = (setting: string | undefined) => {
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--require ${preload}`, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` };
      delete env.V8_HEAP_GROWING_PERCENT;
      if (setting !== undefined) env.V8_HEAP_GROWING_PERCENT = setting;
      const result = spawnSync('sh', [path.join(root, 'scripts/start.sh')], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
      return { status: result.status, execArgv: result.status === 0 ? (JSON.parse(result.stdout) as string[]) : [], stderr: result.stderr };
    };

    test('passes --heap-growing-percent to node: the default, or the value given', () => {
      expect(heapGrowingPercentInEffect(launch(undefined).execArgv)).toBe(DEFAULT_HEAP_GROWING_PERCENT);
      expect(heapGrowingPercentInEffect(launch('').execArgv)).toBe(DEFAULT_HEAP_GROWING_PERCENT);
      expect(heapGrowingPercentInEffect(launch(' 80 ').execArgv)).toBe(80);
      expect(heapGrowingPercentInEffect(launch('0').execArgv)).toBe(0);
    });

    test('a bad value stops the start with one line naming it, before node runs', () => {
      const notANumber = launch('lots');
      expect(notANumber.status).toBe(1);
      expect(notANumber.stderr.trim()).toBe('configuration error: V8_HEAP_GROWING_PERCENT="lots" is not an integer: correct it (docs/CONFIG.md lists every setting with its default)');
      const tooLarge = launch('5000');
      expect(tooLarge.status).toBe(1);
      expect(tooLarge.stderr.trim()).toBe('configuration error: V8_HEAP_GROWING_PERCENT=5000 is out of range [0, 1000]: correct it (docs/CONFIG.md lists every setting with its default)');
    });

    test('node takes the flag: a V8 heap started with it runs', () => {
      const result = spawnSync(process.execPath, ['--heap-growing-percent=200', '-e', 'globalThis.kept = Array.from({ length: 1e5 }, (_, i) => ({ i })); process.stdout.write("ok")'], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('ok');
    });
  });
});
