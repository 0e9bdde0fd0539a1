import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import * as dsl from '../../topology/index.js';
import { SCENARIOS } from './scenarios.js';

/**
 * docs/KAFKA-STREAMS.md is the page a Kafka Streams user reads first (issue 19 part 4). It must
 * not drift from the code: every public method of the DSL's classes and factory objects has a
 * row in its side-by-side table, and the scenarios it names are the suite's (each of which
 * kafka-streams-conformance.test.ts checks against Kafka Streams itself).
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const PAGE = fs.readFileSync(path.join(ROOT, 'docs/KAFKA-STREAMS.md'), 'utf8');

/** The DSL classes: file and class name. */
const CLASSES: Array<[string, string]> = [
  ['StreamsBuilder.ts', 'StreamsBuilder'],
  ['KStream.ts', 'KStream'],
  ['KTable.ts', 'KTable'],
  ['KGroupedStream.ts', 'KGroupedStream'],
  ['KGroupedTable.ts', 'KGroupedTable'],
  ['TimeWindowedKStream.ts', 'TimeWindowedKStream'],
  ['SessionWindowedKStream.ts', 'SessionWindowedKStream'],
  ['SlidingWindowedKStream.ts', 'SlidingWindowedKStream'],
  ['CogroupedKStream.ts', 'CogroupedKStream'],
  ['WindowedCogroupedKStream.ts', 'TimeWindowedCogroupedKStream'],
  ['WindowedCogroupedKStream.ts', 'SessionWindowedCogroupedKStream'],
  ['TimeWindows.ts', 'TimeWindows'],
  ['SessionWindows.ts', 'SessionWindows'],
  ['SlidingWindows.ts', 'SlidingWindows'],
  ['JoinWindows.ts', 'JoinWindows'],
  ['TableJoined.ts', 'TableJoined'],
];

/** Factory objects (Kafka Streams' static builders), listed from the exports at run time. */
const FACTORIES: Record<string, object> = {
  Suppressed: dsl.Suppressed,
  BufferConfig: dsl.BufferConfig,
  Repartitioned: dsl.Repartitioned,
  WindowedSerdes: dsl.WindowedSerdes,
};

/** Public methods (instance and static) of a class, from its TypeScript source: private and protected ones are not the DSL. */
function publicMethods(file: string, className: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, 'topology/dsl', file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const names = new Set<string>();
  source.forEachChild((node) => {
    if (!ts.isClassDeclaration(node) || node.name?.text !== className) return;
    for (const member of node.members) {
      if (!ts.isMethodDeclaration(member) || !ts.isIdentifier(member.name)) continue;
      const modifiers = ts.getModifiers(member) ?? [];
      if (modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
      names.add(member.name.text);
    }
  });
  if (names.size === 0) throw new Error(`no public methods found for ${className} in ${file}`);
  return [...names];
}

/** The rows of a markdown table under a heading: first cell of each row, backticks removed. */
function firstCells(heading: string): string[] {
  const section = PAGE.split(/^## /m).find((part) => part.startsWith(heading));
  if (!section) throw new Error(`docs/KAFKA-STREAMS.md has no section "${heading}"`);
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('|---'))
    .slice(1)
    .map((line) => line.split('|')[1]!.trim().replace(/`/g, ''));
}

describe('docs/KAFKA-STREAMS.md', () => {
  const sideBySide = new Set(firstCells('The DSL side by side'));

  test('has a side-by-side row for every public method of the DSL', () => {
    const expected = [
      ...CLASSES.flatMap(([file, name]) => publicMethods(file, name).map((method) => `${name}.${method}`)),
      ...Object.entries(FACTORIES).flatMap(([name, factory]) => Object.keys(factory).map((method) => `${name}.${method}`)),
    ];
    expect(expected.length).toBeGreaterThan(60);
    expect(expected.filter((method) => !sideBySide.has(method))).toEqual([]);
  });

  test('lists no method the DSL does not have', () => {
    const known = new Set([
      ...CLASSES.flatMap(([file, name]) => publicMethods(file, name).map((method) => `${name}.${method}`)),
      ...Object.entries(FACTORIES).flatMap(([name, factory]) => Object.keys(factory).map((method) => `${name}.${method}`)),
    ]);
    expect([...sideBySide].filter((row) => !known.has(row))).toEqual([]);
  });

  test("its Scenarios table is the suite's scenarios, one row each", () => {
    const rows = firstCells('Scenarios');
    expect([...rows].sort()).toEqual(SCENARIOS.map((s) => s.name).sort());
  });

  test('every scenario the side-by-side table cites exists', () => {
    const names = new Set(SCENARIOS.map((s) => s.name));
    const section = PAGE.split(/^## /m).find((part) => part.startsWith('The DSL side by side'))!;
    const cited = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => (line.split('|')[3] ?? '').match(/\b[a-z]+(?:-[a-z0-9]+)+\b/g) ?? []);
    expect(cited.length).toBeGreaterThan(20);
    expect(cited.filter((name) => !names.has(name))).toEqual([]);
  });
});
