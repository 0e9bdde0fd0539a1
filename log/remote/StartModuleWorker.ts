import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module of this project, whether it runs compiled (dist/, .js) or
 * from TypeScript sources (tsx, jest). Node 20 does not apply `--import tsx` from a worker's
 * execArgv to the worker's own entry module, so a .ts entry is started through a two-line
 * bootstrap that registers tsx's loader in the worker and then imports the entry.
 *
 * `entry` is the module's URL as seen from the caller with a `.js` suffix (as NodeNext imports
 * are written); when only the .ts file exists, that one is started.
 */
export function startModuleWorker(entry: URL, options: WorkerOptions = {}): Worker {
  options = withYoungGeneration(options);
  const js = entry.href.replace(/\.ts$/, '.js');
  const ts = js.replace(/\.js$/, '.ts');
  if (fs.existsSync(new URL(js)) || !fs.existsSync(new URL(ts))) return new Worker(new URL(js), options);
  const bootstrap =
    `import(${JSON.stringify(tsxLoaderUrl())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}); })` +
    // Rethrown outside the promise so the worker fails with an 'error' event, not a silent rejection.
    '.catch((error) => setImmediate(() => { throw error; }));';
  return new Worker(bootstrap, { ...options, eval: true });
}

/**
 * V8's `--max-semi-space-size` (MB) as this process was started with it (scripts/start.sh passes
 * 1; NODE_OPTIONS may name it; the command line's comes after NODE_OPTIONS', so it wins), or
 * undefined when not given.
 */
export function semiSpaceFlagMb(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | undefined {
  let found: number | undefined;
  const words = [...nodeOptions.split(/\s+/), ...execArgv];
  words.forEach((word, i) => {
    const match = /^--max[-_]semi[-_]space[-_]size(?:=(\d+))?$/.exec(word);
    if (!match) return;
    const value = match[1] ?? words[i + 1];
    if (value !== undefined && /^\d+$/.test(value)) found = Number(value);
  });
  return found;
}

/** V8's young generation is three semi-spaces' worth (two semi-spaces and the new large-object space). */
const SEMI_SPACES_PER_YOUNG_GENERATION = 3;
let semiSpaceFlagCleared = false;

/**
 * A worker's young generation: `resourceLimits.maxYoungGenerationSizeMb` when given, else the
 * process's `--max-semi-space-size` as each isolate got it so far. A process-wide
 * `--max-semi-space-size` overrides every isolate's resource constraints (V8's Heap::ConfigureHeap
 * reads the flag after them), so a worker given its own size would not get it: the flag is cleared
 * (it is read only when an isolate is created; this thread's isolate keeps the size it got at
 * launch) and every worker started here from then on gets the flag's size explicitly, unless it asks
 * for its own. Workers started with `new Worker` directly get V8's default once it is cleared.
 */
function withYoungGeneration(options: WorkerOptions): WorkerOptions {
  const semiSpaceMb = semiSpaceFlagMb();
  if (semiSpaceMb === undefined) return options;
  const own = options.resourceLimits?.maxYoungGenerationSizeMb;
  if (own !== undefined && !semiSpaceFlagCleared) {
    v8.setFlagsFromString('--max-semi-space-size=0');
    semiSpaceFlagCleared = true;
  }
  return { ...options, resourceLimits: { ...options.resourceLimits, maxYoungGenerationSizeMb: own ?? semiSpaceMb * SEMI_SPACES_PER_YOUNG_GENERATION } };
}

/** The ESM entry of tsx's register API, found from this project's node_modules. */
function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const exportsMap = JSON.parse(fs.readFileSync(manifest, 'utf8')).exports['./esm/api'];
  return pathToFileURL(path.join(path.dirname(manifest), exportsMap.import.default)).href;
}
