/**
 * In-process component benchmarks, each in its own child process, reporting one JSON line:
 * store restore from a changelog (1M entries), embedded log append, topology on the embedded log.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Row, Scenario } from '../lib/Scenario.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function runScript(script: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(here, '..', script), ...args], { timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${script}: ${error.message}\n${stderr}`));
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return reject(new Error(`${script} printed no JSON line:\n${stdout}`));
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

export const microScenarios: Scenario = async (context) => {
  const rows: Row[] = [];
  context.log('micro: store restore (1M entries)');
  const restore = (await runScript('store-restore.ts', [String(Math.max(100_000, Math.round(1_000_000 * Math.min(1, context.scale * 4))))])) as {
    entries: number;
    store: { seconds: number; entriesPerSecond: number };
    log: { seconds: number; entriesPerSecond: number };
  };
  const perMillion = (restore.log.seconds * 1_000_000) / restore.entries;
  rows.push({
    scenario: 'restore store from changelog',
    route: '(in process) embedded log -> RocksDB store',
    eventsPerSecond: restore.log.entriesPerSecond,
    target: '1M entries <= 10 s',
    met: perMillion <= 10,
    note: `${restore.entries} entries in ${restore.log.seconds} s from the embedded log (${restore.store.seconds} s from memory pages); events/s column = entries/s`,
    detail: restore,
  });

  context.log('micro: embedded log append');
  const append = (await runScript('embedded-log-append.ts', [String(Math.round(1_000_000 * Math.min(1, context.scale * 4))), '1000', '8'])) as { eventsPerSecond: number; seconds: number };
  rows.push({
    scenario: 'embedded log append (no HTTP)',
    route: '(in process) log.produce, batches of 1000',
    eventsPerSecond: append.eventsPerSecond,
    note: 'ceiling for ingress batches: the log alone',
    detail: append,
  });

  context.log('micro: topology on the embedded log');
  const topology = (await runScript('topology-embedded.ts', [String(Math.round(200_000 * Math.min(1, context.scale * 4)))])) as { eventsPerSecond: number; seconds: number };
  rows.push({
    scenario: 'topology embedded (no HTTP, no sink)',
    route: '(in process) dedupe + filter + windowed count',
    eventsPerSecond: topology.eventsPerSecond,
    note: 'a small topology (not the default pipeline) from a pre-filled landing topic',
    detail: topology,
  });
  return rows;
};
