import fs from 'node:fs';
import path from 'node:path';
import { runFixture } from '../support/fixture-process.js';
import { tempDir } from '../support/temp-dir.js';

// chdb-core #239: an INSERT whose data follows the statement (chDB's raw insert, our `format`
// path) makes chDB probe the HOST process's stdin; data waiting in a piped stdin fails the insert
// (Code 48). The store takes that path only when stdin is quiet (a terminal, /dev/null), and
// app/main.ts points stdin at /dev/null so `npm start` always has it.
describe('chDB inserts and the process stdin', () => {
  const dir = tempDir('stdin');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const storeDir = (name: string) => path.join(dir, name.replace(/\W+/g, '-'));
  const INTRUDER = '(9999)\n{"event_id":"intruder"}\n';

  test.each([
    ['a pipe holding data that looks like rows', INTRUDER],
    ['a silent pipe that never closes', undefined],
  ])('with %s the store takes the stdin-proof path and inserts land exactly', async (name, stdinData) => {
    const result = await runFixture('test/sink/fixtures/store-child.ts', { STORE_DIR: storeDir(name), ROWS: '100' }, { stdinData, timeoutMs: 30_000 });
    expect(result.stderr).not.toMatch(/Code: 48|Error/);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual({ rows: 100, mv: 100, path: 'select' });
  });

  test('with /dev/null for stdin the store hands rows over as a buffer', async () => {
    const result = await runFixture('test/sink/fixtures/store-child.ts', { STORE_DIR: storeDir('devnull'), ROWS: '100' }, { stdin: 'ignore', timeoutMs: 30_000 });
    expect(result.stderr).not.toMatch(/Error/);
    expect(JSON.parse(result.stdout.trim())).toEqual({ rows: 100, mv: 100, path: 'format' });
  });

  test('a pipe holding data, pointed at /dev/null first (as app/main.ts does): the buffer path, rows exact', async () => {
    const result = await runFixture('test/sink/fixtures/store-child.ts', { STORE_DIR: storeDir('detached'), ROWS: '100', DETACH_STDIN: 'true' }, { stdinData: INTRUDER, timeoutMs: 30_000 });
    expect(result.stderr).not.toMatch(/Code: 48|Error/);
    expect(JSON.parse(result.stdout.trim())).toEqual({ rows: 100, mv: 100, path: 'format', detached: true });
  });

  test('the hazard the default avoids: the buffer path with data waiting in stdin never lands the rows', async () => {
    // The engine reads the pipe's bytes with the rows: it fails (Code 48, or a parse error
    // "data for INSERT was parsed from stdin", which would dead-letter good rows) or, the pipe
    // held open, waits for the rest forever.
    const outcome = await runFixture('test/sink/fixtures/store-child.ts', { STORE_DIR: storeDir('forced'), ROWS: '100', INSERT_PATH: 'format' }, { stdinData: INTRUDER, timeoutMs: 10_000 }).then(
      (result) => (/Code: 48|parsed from stdin/.test(result.stderr) ? 'failed on stdin' : `exit ${result.code}: ${result.stdout} ${result.stderr.slice(0, 300)}`),
      (error: Error) => (/did not finish in time/.test(error.message) ? 'still waiting' : error.message),
    );
    expect(['failed on stdin', 'still waiting']).toContain(outcome);
  });
});
