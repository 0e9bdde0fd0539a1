import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore } from '../../state/Stores.js';
import { TempDirs } from '../support/temp-dir.js';

const KEYS = 100; // as in fixtures/crash-writer.ts
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const dirs = new TempDirs();

afterEach(() => dirs.removeAll());

/** Runs the writer until it has flushed past `killAfter` checkpoints, then SIGKILLs it mid-loop. */
function runAndKill(dir: string, killAfter: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'crash-writer.ts'), dir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lastSeen = 0;
    let stderr = '';
    let buffered = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) lastSeen = Number(line.split(' ')[1]);
      if (lastSeen >= killAfter && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(lastSeen);
      else reject(new Error(`writer exited with ${code} before being killed: ${stderr}`));
    });
  });
}

test('a writer SIGKILLed mid-loop leaves a checkpoint and data that match exactly', async () => {
  const dir = dirs.make();
  const store = keyValueStore('crash', stringSerde, jsonSerde<number>()).build('app');
  let previous = 0;
  // Several kills on one directory: each run resumes from the checkpoint the last one left.
  for (const killAfter of [30, 120, 260]) {
    const lastReported = await runAndKill(dir, killAfter);
    const checkpoint = await store.open(dir);
    try {
      expect(checkpoint).toBeDefined();
      const c = checkpoint as number;
      // The kill can land after a flush that was not reported yet, never before a reported one.
      expect(c).toBeGreaterThanOrEqual(lastReported);
      expect(c).toBeGreaterThan(previous);
      const round = c - 1;
      const all = store.all();
      expect(all).toHaveLength(KEYS - 1);
      for (const entry of all) expect(entry.value).toBe(round);
      expect(store.get(`k${round % KEYS}`)).toBeUndefined();
      previous = c;
    } finally {
      await store.close();
    }
  }
}, 120_000);
