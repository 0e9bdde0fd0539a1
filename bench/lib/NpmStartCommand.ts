import fs from 'node:fs';
import path from 'node:path';

/**
 * How `npm start` starts the service in `tree` (package.json "start"): the launcher
 * scripts/start.sh, which sets MALLOC_ARENA_MAX and then execs node on
 * scripts/start.mjs (same pid: the spawned process is the service). A tree from before the
 * launcher (a before/after comparison) is started as it was then: node scripts/start.mjs.
 */
export function npmStartCommand(tree: string): { command: string; args: string[] } {
  const launcher = path.join(tree, 'scripts/start.sh');
  if (fs.existsSync(launcher)) return { command: 'sh', args: [launcher] };
  return { command: process.execPath, args: [path.join(tree, 'scripts/start.mjs')] };
}
