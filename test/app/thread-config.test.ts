/** STREAM_THREADS, SINGLE_THREAD, SINK_THREAD and PIPELINE_THREAD_NICE as the service reads them at start (app/threads/ThreadConfig.ts). */
import { ConfigError } from '../../config/index.js';
import { sinkSharesStreamThread } from '../../app/threads/ThreadedRuntime.js';
import { defaultStreamThreads, readThreadConfig } from '../../app/threads/ThreadConfig.js';

describe('thread settings', () => {
  test('the default fits the machine: the cores left after the HTTP, log and sink threads, at most one per partition', () => {
    expect(defaultStreamThreads(2, 4)).toBe(1);
    expect(defaultStreamThreads(8, 4)).toBe(4);
    expect(defaultStreamThreads(6, 8)).toBe(4);
  });

  test('SINK_THREAD=auto shares the one stream thread and keeps its own beside two or more', () => {
    expect(sinkSharesStreamThread(readThreadConfig({ STREAM_THREADS: '1' }, 4))).toBe(true);
    expect(sinkSharesStreamThread(readThreadConfig({ STREAM_THREADS: '2' }, 4))).toBe(false);
    expect(sinkSharesStreamThread(readThreadConfig({ STREAM_THREADS: '1', SINK_THREAD: 'own' }, 4))).toBe(false);
    expect(sinkSharesStreamThread(readThreadConfig({ STREAM_THREADS: '1', SINK_THREAD: 'shared' }, 4))).toBe(true);
  });

  test('settings that cannot hold are refused at start, naming the variable', () => {
    expect(() => readThreadConfig({ STREAM_THREADS: '2', SINK_THREAD: 'shared' }, 4)).toThrow(ConfigError);
    expect(() => readThreadConfig({ STREAM_THREADS: '2', SINK_THREAD: 'shared' }, 4)).toThrow(/SINK_THREAD=shared needs STREAM_THREADS=1/);
    expect(() => readThreadConfig({ SINK_THREAD: 'elsewhere' }, 4)).toThrow(/SINK_THREAD/);
    expect(() => readThreadConfig({ STREAM_THREADS: '0' }, 4)).toThrow(/STREAM_THREADS/);
    expect(() => readThreadConfig({ PIPELINE_THREAD_NICE: '20' }, 4)).toThrow(/PIPELINE_THREAD_NICE/);
    expect(() => readThreadConfig({ PIPELINE_THREAD_NICE: '-5' }, 4)).toThrow(/PIPELINE_THREAD_NICE/);
  });

  test('PIPELINE_THREAD_NICE: 0 unless set', () => {
    expect(readThreadConfig({}, 4).pipelineThreadNice).toBe(0);
    expect(readThreadConfig({ PIPELINE_THREAD_NICE: '5' }, 4).pipelineThreadNice).toBe(5);
  });
});
