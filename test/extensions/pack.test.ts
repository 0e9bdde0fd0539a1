/**
 * Issue 16 part 3's done-when: the package packed (npm pack, built on prepack) and unpacked into
 * a project outside the source tree runs the word-count example and the service with a
 * PIPELINE_EXTENSIONS module, each against exact output, and `streamline describe` lists the
 * extension's node and its store's changelog (examples/pack-check.sh does the work).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports?: unknown; scripts?: Record<string, string> };

test('the manifest makes the package installable: exports, and a build on prepack and prepare', () => {
  expect(manifest.exports).toBeDefined();
  expect(manifest.scripts?.prepack).toBe('npm run build');
  expect(manifest.scripts?.prepare).toBe('npm run build');
});

test('npm pack: the tarball works as a library and as the service, outside the source tree', async () => {
  const { stdout } = await promisify(execFile)('bash', [path.join(root, 'examples', 'pack-check.sh')], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  expect(stdout.trim().split('\n')).toEqual(['ok word-count', 'ok extension', 'ok describe']);
}, 600_000);
