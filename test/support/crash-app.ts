import fs from 'node:fs';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, type Topology } from '../../topology/index.js';
import { waitForCaughtUp } from './streams.js';

/**
 * The child side of runCrashChild (crash-child.ts): runs `topology` on the embedded log under
 * CRASH_DATA_DIR until every record of the `caughtUpOn` topics is committed, reporting each commit
 * to the parent over IPC (which may SIGKILL it at any point), then writes what `dump` reads of the
 * stores to <dir>/stores.json and reports that it finished. Commits every 20 ms in polls of at most
 * 500 records, so a run has many commits for the parent to kill at.
 */
export async function runCrashApp(options: { topology: Topology; applicationId: string; caughtUpOn: string[]; dump: (app: StreamsApp) => unknown }): Promise<void> {
  const dir = process.env.CRASH_DATA_DIR;
  if (!dir) throw new Error('CRASH_DATA_DIR is required');
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  const app = new StreamsApp(options.topology, log, { applicationId: options.applicationId, stateDir: `${dir}/state`, commitIntervalMs: 20, maxPollRecords: 500 });
  app.on('commit', (event: { records: number }) => process.send?.({ type: 'commit', records: event.records }));
  await app.start();
  await waitForCaughtUp(app, log, options.applicationId, options.caughtUpOn, 300_000);
  fs.writeFileSync(`${dir}/stores.json`, JSON.stringify(options.dump(app)));
  await app.close();
  await log.close();
  process.send?.({ type: 'done' });
  process.disconnect?.();
}
