/**
 * The server sink path's exactly-once across SIGKILL, through @clickhouse/client over real HTTP to
 * the ClickHouse engine (chDB behind test/support/chdb-http-server.ts, its own process that
 * outlives the killed sinks, as a server would): a sink child killed after a batch is in
 * ClickHouse and before its offsets are committed, twice (the second restart with other batch
 * settings, so only the recorded cuts in sink_batches rebuild the replayed batch), then run to
 * the end. Rows, the materialized view's totals and seed 004's answers are exact: crashScenario,
 * with the sink child writing to that server (SINK_CLICKHOUSE_URL).
 */
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { ClickHouseServerStore } from '../../sink/ClickHouseServerStore.js';
import { startChdbHttpProcess, type ChdbHttpProcess } from '../support/chdb-http-process.js';
import { crashScenario } from './crashScenario.js';

let server: ChdbHttpProcess | undefined;
const url = () => server!.url;

crashScenario(
  {
    name: 'server',
    topic: 'events.raw',
    groupId: 'server-crash-sink',
    openLog: (dir) => openEmbeddedLog({ dir: path.join(dir, 'log') }),
    childEnv: {},
  },
  {
    title: 'a server-path sink SIGKILLed between the ClickHouse insert and the offset commit',
    seed: 123,
    childTimeoutMs: 120_000,
    testTimeoutMs: 400_000,
    analytics: {
      start: async (dir) => {
        server = await startChdbHttpProcess(path.join(dir, 'chdb'));
      },
      stop: async () => {
        await server?.stop();
      },
      openStore: () => ClickHouseServerStore.open({ url: url(), database: 'events_db' }),
      childEnv: () => ({ SINK_CLICKHOUSE_URL: url() }),
    },
  },
);
