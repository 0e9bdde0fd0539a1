import fs from 'node:fs';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log } from '../../log/Log.js';
import { StreamsApp, type Topology } from '../../topology/index.js';
import { waitForCaughtUp } from './streams.js';

/**
 * The child side of runCrashChild (crash-child.ts): runs `topology` on a log under CRASH_DATA_DIR
 * (the embedded one unless `openLog` opens another) until every record of the `caughtUpOn` topics
 * is committed, reporting each commit to the parent over IPC (which may SIGKILL it at any point),
 * then writes what `dump` reads of the stores to <dir>/stores.json and reports that it finished.
 * Commits every 20 ms in polls of at most 500 records, so a run has many commits for the parent
 * to kill at.
 *
 * With `queryableStore`: on Kafka the assignment comes after start() (it waits out the killed
 * predecessor's session), so a caught-up check passing before it only says that run had committed
 * everything, and the stores read then would be empty. So the app must be assigned, caught up and
 * still hold that store queryable when it is read.
 */
export async function runCrashApp(options: {
  topology: Topology;
  applicationId: string;
  caughtUpOn: string[];
  dump: (app: StreamsApp) => unknown;
  openLog?: (dir: string) => Promise<Log>;
  queryableStore?: string;
}): Promise<void> {
  const dir = process.env.CRASH_DATA_DIR;
  if (!dir) throw new Error('CRASH_DATA_DIR is required');
  const log = options.openLog ? await options.openLog(dir) : await openEmbeddedLog({ dir: `${dir}/log` });
  const app = new StreamsApp(options.topology, log, { applicationId: options.applicationId, stateDir: `${dir}/state`, commitIntervalMs: 20, maxPollRecords: 500 });
  app.on('commit', (event: { records: number }) => process.send?.({ type: 'commit', records: event.records }));
  await app.start();
  for (;;) {
    if (options.queryableStore !== undefined) await app.whenAssigned();
    await waitForCaughtUp(app, log, options.applicationId, options.caughtUpOn, 300_000);
    if (options.queryableStore === undefined || holdsQueryableStore(app, options.queryableStore)) break;
    await new Promise((resolve) => setImmediate(resolve)); // let the restore or rebalance move on
  }
  fs.writeFileSync(`${dir}/stores.json`, JSON.stringify(options.dump(app)));
  await app.close();
  await log.close();
  process.send?.({ type: 'done' });
  process.disconnect?.();
}

function holdsQueryableStore(app: StreamsApp, store: string): boolean {
  try {
    app.queryableStores(store);
  } catch {
    return false;
  }
  return app.taskIds().length > 0;
}
