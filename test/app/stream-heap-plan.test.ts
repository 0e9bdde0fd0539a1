/** The stream threads' V8 heaps from the memory plan (config/MemoryPlan.ts), and STREAM_HEAP_MB (app/threads/ThreadConfig.ts). */
import { ConfigError, MIN_STREAM_HEAP_MB, planMemory, readMemoryPlan } from '../../config/index.js';
import { readThreadConfig, streamHeapMbPerThread } from '../../app/threads/ThreadConfig.js';

describe("the stream threads' heap", () => {
  test('is 30% of what the runtime base leaves of MEMORY_LIMIT_MB, at least MIN_STREAM_HEAP_MB', () => {
    expect(planMemory(1024).streamHeapMb).toBe(199);
    expect(planMemory(2048).streamHeapMb).toBe(506);
    expect(planMemory(384).streamHeapMb).toBe(MIN_STREAM_HEAP_MB);
    // MEMORY_LIMIT_MB=0 (no refusals) sizes it as the default plan does.
    expect(readMemoryPlan({ MEMORY_LIMIT_MB: '0' }).streamHeapMb).toBe(planMemory(1024).streamHeapMb);
  });

  test('is divided among the stream threads, each keeping at least half the minimum; STREAM_HEAP_MB sets each one', () => {
    const planned = planMemory(2048).streamHeapMb;
    expect(streamHeapMbPerThread(readThreadConfig({ STREAM_THREADS: '1' }, 4), planned)).toBe(506);
    expect(streamHeapMbPerThread(readThreadConfig({ STREAM_THREADS: '2' }, 4), planned)).toBe(253);
    expect(streamHeapMbPerThread(readThreadConfig({ STREAM_THREADS: '4' }, 4), planMemory(1024).streamHeapMb)).toBe(MIN_STREAM_HEAP_MB / 2);
    expect(streamHeapMbPerThread(readThreadConfig({ STREAM_THREADS: '2', STREAM_HEAP_MB: '300' }, 4), planned)).toBe(300);
  });

  test('STREAM_HEAP_MB is validated at start', () => {
    expect(readThreadConfig({}, 4).streamHeapMb).toBeUndefined();
    expect(() => readThreadConfig({ STREAM_HEAP_MB: '8' }, 4)).toThrow(ConfigError);
    expect(() => readThreadConfig({ STREAM_HEAP_MB: 'lots' }, 4)).toThrow(ConfigError);
  });
});
