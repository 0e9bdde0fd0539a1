import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** "A front page of about 200 lines" (issue 17): the full graph and the tables live in docs/. */
const README_MAX_LINES = 220;

/** Relative link targets of a Markdown file ([text](target), anchors and web links left out). */
function relativeLinks(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map(([, target]) => target!.split('#')[0]!)
    .filter((target) => target !== '' && !/^[a-z]+:/i.test(target));
}

describe('README.md is a front page', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  test(`it has at most ${README_MAX_LINES} lines`, () => {
    expect(readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0)).toBeLessThanOrEqual(README_MAX_LINES);
  });

  test('it links the pages that hold the rest, and every file it links exists', () => {
    const links = relativeLinks('README.md');
    expect(links).toEqual(expect.arrayContaining(['docs/TOPOLOGY.md', 'docs/ARCHITECTURE.md', 'docs/CONFIG.md', 'CONTRIBUTING.md']));
    expect(links.filter((target) => !fs.existsSync(path.join(ROOT, target)))).toEqual([]);
  });

  test('every page it leads to links only files that exist (docs/, CONTRIBUTING.md, the rooms\' READMEs)', () => {
    const pages = [
      'CONTRIBUTING.md',
      ...fs.readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`),
      ...fs.readdirSync(ROOT).filter((name) => fs.existsSync(path.join(ROOT, name, 'README.md'))).map((name) => `${name}/README.md`),
    ];
    expect(pages).toEqual(expect.arrayContaining(['docs/TOPOLOGY.md', 'sink/README.md']));
    const broken = pages.flatMap((page) => relativeLinks(page).filter((target) => !fs.existsSync(path.join(ROOT, path.dirname(page), target))).map((target) => `${page} -> ${target}`));
    expect(broken).toEqual([]);
  });
});
