import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROOMS = ['errors', 'config', 'log', 'state', 'topology', 'ingress', 'sink', 'processors', 'query', 'console', 'app', 'bin'];

function sourceFiles(room: string): string[] {
  return (fs.readdirSync(path.join(ROOT, room), { recursive: true }) as string[])
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => `${room}/${file.split(path.sep).join('/')}`);
}

/** docs/ARCHITECTURE.md "File names": which convention a file follows. */
function expectedStyle(file: string): 'index' | 'kebab' | 'entry' | 'pascal' {
  const base = path.basename(file);
  if (base === 'index.ts') return 'index';
  // Named after what a user types: CLI commands, and the HTTP route groups.
  if (file.startsWith('bin/') || file.startsWith('ingress/routes/')) return 'kebab';
  // Scripts run rather than imported: the service's main and the worker threads' entries.
  if (file === 'app/main.ts' || /^[a-z]\w*Main\.ts$/.test(base)) return 'entry';
  return 'pascal';
}

const STYLE_PATTERN = {
  index: /^index\.ts$/,
  kebab: /^[a-z][a-z0-9]*(-[a-z0-9]+)*\.ts$/,
  entry: /^[a-z][A-Za-z0-9]*\.ts$/,
  pascal: /^[A-Z][A-Za-z0-9]*\.ts$/,
};

describe('file names: one convention per kind of file (docs/ARCHITECTURE.md "File names")', () => {
  test('every module in the rooms is PascalCase; kebab-case only for CLI commands and route groups; lowercase entry scripts', () => {
    const files = ROOMS.flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(250);
    const offenders = files.filter((file) => !STYLE_PATTERN[expectedStyle(file)].test(path.basename(file)));
    expect(offenders).toEqual([]);
  });

  test('the check refuses the styles the rooms used to mix', () => {
    expect(STYLE_PATTERN[expectedStyle('sink/sinkConfig.ts')].test('sinkConfig.ts')).toBe(false);
    expect(STYLE_PATTERN[expectedStyle('app/app-config.ts')].test('app-config.ts')).toBe(false);
    expect(STYLE_PATTERN[expectedStyle('bin/commands/ReprocessPlan.ts')].test('ReprocessPlan.ts')).toBe(false);
    expect(STYLE_PATTERN[expectedStyle('log/kafka/KafkaConfig.ts')].test('KafkaConfig.ts')).toBe(true);
  });
});
