import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { removeDir, tempDir } from './temp-dir.js';

/** What embeddedLogPerTest gives each test: its temp dir and the embedded log opened in it. */
export interface PerTestLog {
  readonly dir: string;
  readonly log: EmbeddedLog;
}

/**
 * Registers a beforeEach that opens a fresh embedded log in a new temp dir with the given
 * one-partition topics, and an afterEach that closes it and removes the dir, so a topology test
 * starts every case from an empty log. Read `dir` and `log` inside the tests, not at definition.
 *
 * @example
 *   const fresh = embeddedLogPerTest('sliding', ['answers', 'bursts']);
 *   test('...', async () => { await fresh.log.produce(records); });
 */
export function embeddedLogPerTest(prefix: string, topics: string[]): PerTestLog {
  const current: { dir?: string; log?: EmbeddedLog } = {};
  beforeEach(async () => {
    current.dir = tempDir(prefix);
    current.log = await openEmbeddedLog({ dir: `${current.dir}/log` });
    for (const topic of topics) await current.log.ensureTopic(topic, { partitions: 1 });
  });
  afterEach(async () => {
    await current.log?.close();
    if (current.dir) removeDir(current.dir);
  });
  return {
    get dir() {
      return current.dir!;
    },
    get log() {
      return current.log!;
    },
  };
}
