#!/usr/bin/env node
/**
 * `npm start`: runs the compiled service (dist/app/main.js), compiling first only when a source
 * file is newer than the last build (issue 21 item 6: no TypeScript compile at every start, so a
 * restart after a crash is ready in about a second instead of 6-12 s).
 *
 * Plain JavaScript on purpose: it must run before anything is compiled. The check stats the
 * sources of the build (tsconfig.build.json's folders): a few ms. The build stamp
 * (dist/.build-stamp) records when the last build *started*, so an edit made during a build
 * is not mistaken for built.
 *
 *   STREAMLINE_SKIP_BUILD_CHECK=true   start dist as it is (an image built in CI, a read-only tree)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const entry = path.join(dist, 'app', 'main.js');
const stampFile = path.join(dist, '.build-stamp');
const SOURCE_DIRS = ['app', 'bin', 'console', 'ingress', 'log', 'topology', 'processors', 'state', 'sink', 'query'];
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

/** Newest mtime (ms) of the .ts files under dir. */
function newestTs(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const item of entries) {
    const full = path.join(dir, item.name);
    if (item.isDirectory()) newest = Math.max(newest, newestTs(full));
    else if (item.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function newestSource() {
  let newest = 0;
  for (const dir of SOURCE_DIRS) newest = Math.max(newest, newestTs(path.join(root, dir)));
  for (const file of BUILD_INPUTS) {
    try {
      newest = Math.max(newest, fs.statSync(path.join(root, file)).mtimeMs);
    } catch {
      // optional input
    }
  }
  return newest;
}

/** When the last build started: the stamp ("building" = unfinished: 0), else (a plain `npm run build`) the entry's mtime. */
function builtAt() {
  try {
    return Number(fs.readFileSync(stampFile, 'utf8').trim()) || 0;
  } catch {
    try {
      return fs.statSync(entry).mtimeMs;
    } catch {
      return 0;
    }
  }
}

function build(reason) {
  const startedAt = Date.now();
  process.stderr.write(`npm start: ${reason}: compiling TypeScript (tsc -p tsconfig.build.json) ...\n`);
  // A build killed half way must not pass for a fresh one (tsc writes main.js early).
  fs.mkdirSync(dist, { recursive: true });
  fs.writeFileSync(stampFile, 'building\n');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(
      'npm start: the TypeScript build failed (errors above): fix them and start again, or run `npm run dev` to start from the sources without a type check\n',
    );
    process.exit(1);
  }
  fs.writeFileSync(stampFile, `${startedAt}\n`);
  process.stderr.write(`npm start: built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
}

const skip = /^(1|true|yes|on)$/i.test(process.env.STREAMLINE_SKIP_BUILD_CHECK ?? '');
if (!fs.existsSync(entry)) {
  if (skip) {
    process.stderr.write(`npm start: ${path.relative(root, entry)} does not exist and STREAMLINE_SKIP_BUILD_CHECK is set: run \`npm run build\` first\n`);
    process.exit(1);
  }
  build('no build yet');
} else if (!skip && newestSource() > builtAt()) {
  build('sources changed since the last build');
}

await import(pathToFileURL(entry).href);
