import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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
  const js = entry.href.replace(/\.ts$/, '.js');
  const ts = js.replace(/\.js$/, '.ts');
  if (fs.existsSync(new URL(js)) || !fs.existsSync(new URL(ts))) return new Worker(new URL(js), options);
  const bootstrap =
    `import(${JSON.stringify(tsxLoaderUrl())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}); })` +
    // Rethrown outside the promise so the worker fails with an 'error' event, not a silent rejection.
    '.catch((error) => setImmediate(() => { throw error; }));';
  return new Worker(bootstrap, { ...options, eval: true });
}

/** The ESM entry of tsx's register API, found from this project's node_modules. */
function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const exportsMap = JSON.parse(fs.readFileSync(manifest, 'utf8')).exports['./esm/api'];
  return pathToFileURL(path.join(path.dirname(manifest), exportsMap.import.default)).href;
}
