import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The part of ESLint's Node API used here (eslint 9.9 ships no types). */
interface LintApi {
  ESLint: new (options: { cwd: string }) => {
    lintText(source: string, options: { filePath: string }): Promise<Array<{ messages: Array<{ ruleId: string | null; message: string }> }>>;
  };
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Loaded by URL: eslint.config.js is plain JavaScript with no declarations for TypeScript to read.
const rooms = ((await import(pathToFileURL(path.join(ROOT, 'eslint.config.js')).href)) as { ROOMS: Record<string, string[]> }).ROOMS;
const { ESLint } = (await import('eslint' as string)) as LintApi;
const eslint = new ESLint({ cwd: ROOT });

/** Lints source as if it were the file at `file` (repo-relative; nothing is written) and returns the room rules' messages. */
async function roomMessages(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((message) => message.ruleId === 'no-restricted-imports' || message.ruleId === 'no-restricted-syntax').map((message) => message.message);
}

describe('rooms: which folder may import which (docs/ARCHITECTURE.md "Rooms")', () => {
  test('a wrong import fails lint with the rule message naming the rooms it may import', async () => {
    const messages = await roomMessages('ingress/WrongImport.ts', "import { readAppConfig } from '../app/app-config.js';\nexport const config = readAppConfig({});\n");
    expect(messages).toEqual([expect.stringContaining('ingress/ may import only errors/, config/, log/ (docs/ARCHITECTURE.md "Rooms")')]);
  });

  test('a dynamic import() from a subfolder and a type-only import are refused the same way', async () => {
    expect(await roomMessages('ingress/routes/WrongImport.ts', "export const load = () => import('../../app/AppConfig.js');\n")).toEqual([
      'ingress/ may import only errors/, config/, log/ (docs/ARCHITECTURE.md "Rooms")',
    ]);
    expect(await roomMessages('topology/dsl/WrongImport.ts', "import type { PipelineConfig } from '../../processors/index.js';\nexport type Config = PipelineConfig;\n")).toEqual([
      expect.stringContaining('topology/ may import only errors/, config/, log/, state/'),
    ]);
    expect(await roomMessages('config/WrongImport.ts', "export { UnknownTopicError } from '../log/Log.js';\n")).toEqual([expect.stringContaining('config/ may import only errors/ (')]);
    expect(await roomMessages('errors/WrongImport.ts', "export { ConfigError } from '../config/index.js';\n")).toEqual([expect.stringContaining('errors/ imports nothing of ours')]);
  });

  test('every room may import exactly the rooms listed for it', async () => {
    const verdicts: string[] = [];
    const expected: string[] = [];
    for (const room of Object.keys(rooms)) {
      for (const other of Object.keys(rooms)) {
        if (other === room) continue;
        const messages = await roomMessages(`${room}/Probe.ts`, `import * as other from '../${other}/Anything.js';\nexport { other };\n`);
        verdicts.push(`${room} -> ${other}: ${messages.length === 0 ? 'allowed' : 'refused'}`);
        expected.push(`${room} -> ${other}: ${rooms[room]!.includes(other) ? 'allowed' : 'refused'}`);
      }
    }
    expect(verdicts).toEqual(expected);
    // Nothing may import bin/, and only bin/ may import app/.
    expect(Object.keys(rooms).filter((room) => rooms[room]!.includes('bin'))).toEqual([]);
    expect(Object.keys(rooms).filter((room) => rooms[room]!.includes('app'))).toEqual(['bin']);
  });

  test('every top-level source folder is a room, and docs/ARCHITECTURE.md lists each with the rooms eslint allows', () => {
    const folders = fs
      .readdirSync(ROOT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !['node_modules', 'dist', 'test', 'bench', 'scripts', 'examples', 'docs', 'data', 'coverage', 'deploy', 'proto', 'conformance', 'kafka'].includes(entry.name) && !entry.name.startsWith('.'))
      .filter((entry) => fs.readdirSync(path.join(ROOT, entry.name), { recursive: true }).some((file) => String(file).endsWith('.ts')))
      .map((entry) => entry.name);
    expect(folders.sort()).toEqual(Object.keys(rooms).sort());

    const doc = fs.readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## 3. Rooms'));
    const documented = Object.fromEntries(
      [...section.matchAll(/^\| `(\w+)\/` \| [^|]+ \| ([^|]+) \|$/gm)].map(([, room, imports]) => [room, imports!.trim() === 'nothing of ours' ? [] : imports!.split(',').map((name) => name.trim())]),
    );
    expect(documented).toEqual(rooms);
  });
});
