/**
 * STREAM_THREAD_YOUNG_GEN_MB: the stream threads get their own V8 young generation while the other
 * isolates keep the launcher's --max-semi-space-size (log/remote/StartModuleWorker.ts).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DEFAULT_STREAM_YOUNG_GENERATION_MB, readThreadConfig } from '../../app/threads/ThreadConfig.js';
import { semiSpaceFlagMb } from '../../log/remote/StartModuleWorker.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MB = 1024 * 1024;

describe('a young generation for the stream threads only', () => {
  test('the process flag is read from the command line, else NODE_OPTIONS, in either spelling', () => {
    expect(semiSpaceFlagMb(['--max-semi-space-size=1'], '')).toBe(1);
    expect(semiSpaceFlagMb([], '--max_semi_space_size=16 --enable-source-maps')).toBe(16);
    expect(semiSpaceFlagMb(['--max-semi-space-size', '4'], '--max-semi-space-size=16')).toBe(4);
    expect(semiSpaceFlagMb(['--max-old-space-size=512'], '')).toBeUndefined();
  });

  test('STREAM_THREAD_YOUNG_GEN_MB: 24 by default, 0 for the process own, refused below a semi-space of 1 MB', () => {
    expect(readThreadConfig({}, 4).streamYoungGenerationMb).toBe(DEFAULT_STREAM_YOUNG_GENERATION_MB);
    expect(readThreadConfig({ STREAM_THREAD_YOUNG_GEN_MB: '0' }, 4).streamYoungGenerationMb).toBe(0);
    expect(readThreadConfig({ STREAM_THREAD_YOUNG_GEN_MB: '24' }, 4).streamYoungGenerationMb).toBe(24);
    expect(() => readThreadConfig({ STREAM_THREAD_YOUNG_GEN_MB: '2' }, 4)).toThrow(/STREAM_THREAD_YOUNG_GEN_MB/);
    expect(() => readThreadConfig({ STREAM_THREAD_YOUNG_GEN_MB: 'big' }, 4)).toThrow(/STREAM_THREAD_YOUNG_GEN_MB/);
  });

  test('under --max-semi-space-size=1 a worker given its own young generation grows to it, the others stay at 1 MB semi-spaces', async () => {
    // The flag alone would override the worker's resourceLimits (V8's Heap::ConfigureHeap): own would read 2 MB.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--max-semi-space-size=1', '--import', 'tsx', path.join(root, 'test/app/support/young-generation-probe.ts')],
      { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } },
    );
    const sizes = JSON.parse(stdout) as { main: number; before: number; own: number; after: number };
    expect(sizes.main).toBeLessThanOrEqual(2 * MB);
    expect(sizes.before).toBeLessThanOrEqual(2 * MB);
    expect(sizes.after).toBeLessThanOrEqual(2 * MB);
    expect(sizes.own).toBeGreaterThanOrEqual(16 * MB);
  }, 60_000);
});
