import fs from 'node:fs';
import path from 'node:path';
import { runFixture } from '../support/fixture-process.js';
import { tempDir } from '../support/temp-dir.js';

// chdb-core #239: an INSERT whose data follows the statement makes chDB probe the HOST process's
// stdin. With a piped stdin holding data that fails the insert (Code 48) or inserts the pipe's
// bytes; with a silent pipe it blocks. Our store never issues such an INSERT.
describe('chDB inserts in a process whose stdin is a pipe', () => {
  const dir = tempDir('stdin');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['a pipe holding data that looks like rows', '(9999)\n{"event_id":"intruder"}\n'],
    ['a silent pipe that never closes', undefined],
  ])('inserts land exactly with %s', async (name, stdinData) => {
    const storeDir = path.join(dir, name.replace(/\W+/g, '-'));
    const result = await runFixture('test/sink/fixtures/store-child.ts', { STORE_DIR: storeDir, ROWS: '100' }, { stdinData, timeoutMs: 30_000 });
    expect(result.stderr).not.toMatch(/Code: 48|Error/);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual({ rows: 100, mv: 100 });
  });
});
