/**
 * Issue 21 (idle RSS): every module a thread imports is held by its V8 isolate for the life of the
 * process (source text, functions, module records). Threaded (the default), the HTTP thread runs
 * the ingress only: what only the topology, the sink, the query layer or a single-threaded start
 * use is imported on demand (`import()`), not by app/main.ts's static import graph. A pipeline
 * worker loads each role's modules only when it runs that role (issue 13: a sink thread without
 * the topology). This walks the static graphs (value imports and re-exports; `import type` and
 * `import()` are not followed).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '../..');

function staticImports(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) {
      const bindings = statement.importClause?.namedBindings;
      const onlyTypes = !statement.importClause?.name && bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) specifier = statement.moduleSpecifier;
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
      specifier = statement.moduleSpecifier;
    }
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.')) {
      found.push(path.resolve(path.dirname(file), specifier.text.replace(/\.js$/, '.ts')));
    }
  }
  return found;
}

function graph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const next of staticImports(file)) visit(next);
  };
  visit(path.join(root, entry));
  return new Set([...seen].map((file) => path.relative(root, file)));
}

describe("the HTTP thread's static imports (app/main.ts)", () => {
  const modules = graph('app/main.ts');

  test('include the ingress, the listeners and the thread runtime', () => {
    expect(modules).toContain('ingress/index.ts');
    expect(modules).toContain('app/Listeners.ts');
    expect(modules).toContain('app/threads/ThreadedRuntime.ts');
  });

  test('leave out the topology, the default pipeline, the sink, the query layer and the single-threaded start', () => {
    const pipeline = [...modules].filter((file) => /^(topology|sink|state)\//.test(file) || /^processors\/(index|DefaultPipeline|PipelineConfig|http\/)/.test(file));
    expect(pipeline).toEqual([]);
    expect(modules).not.toContain('query/QueryLayer.ts');
    expect(modules).not.toContain('app/StartSequence.ts');
  });
});

describe("a pipeline worker's static imports (app/threads/pipelineWorkerMain.ts)", () => {
  const modules = graph('app/threads/pipelineWorkerMain.ts');

  test('include the start sequence, the remote log and the topics it creates', () => {
    expect(modules).toContain('app/StartSequence.ts');
    expect(modules).toContain('log/remote/RemoteLog.ts');
    expect(modules).toContain('processors/PipelineTopics.ts');
  });

  test("leave out the topology, the processors, the stores and the sink: each role's own modules load with the role", () => {
    const roleModules = [...modules].filter((file) => /^(topology|sink|state)\//.test(file) || /^processors\/(index|DefaultPipeline|RoutingRules|DedupeProcessor|DeadLetterReplay|http\/)/.test(file));
    // The one state module: the stores' memory share, which every thread sets before anything opens.
    expect(roleModules).toEqual(['state/StoreMemory.ts']);
    expect(modules).not.toContain('app/TopologyRole.ts');
  });
});

describe("the topology role's static imports (app/TopologyRole.ts)", () => {
  test('include the default pipeline and the streams runtime, not the sink', () => {
    const modules = graph('app/TopologyRole.ts');
    expect(modules).toContain('processors/DefaultPipeline.ts');
    expect(modules).toContain('topology/index.ts');
    expect([...modules].filter((file) => file.startsWith('sink/'))).toEqual([]);
  });
});
