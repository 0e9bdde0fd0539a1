import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Built from parts so this file does not name the folder it looks for.
const SIBLING = ['..', 'shared'].join('/');
const SIBLING_ABSOLUTE = ['', 'work', 'shared'].join('/');

/** Every file a clone has: what git tracks, plus new files not ignored (so an uncommitted file counts too). */
function cloneFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return listed.split('\0').filter((file) => file && fs.existsSync(path.join(ROOT, file)) && fs.statSync(path.join(ROOT, file)).isFile());
}

describe('the product stands alone: nothing refers to the team folder beside the clone', () => {
  test(`no file of the repository names ${SIBLING} or ${SIBLING_ABSOLUTE}`, () => {
    const files = cloneFiles();
    expect(files).toEqual(expect.arrayContaining(['README.md', 'package.json', '.ci/run', 'docs/ARCHITECTURE.md']));
    const referring = files.filter((file) => {
      const text = fs.readFileSync(path.join(ROOT, file));
      return text.includes(SIBLING) || text.includes(SIBLING_ABSOLUTE);
    });
    expect(referring).toEqual([]);
  });
});
