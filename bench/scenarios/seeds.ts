/**
 * The seeds' own load targets, open loop (fixed rates; latency from when each request was due),
 * against the whole pipeline on embedded defaults (what `npm start` runs: ingress, topology and
 * ClickHouse sink share the process and its 2 cores):
 * - seed 001: 2,000 events/s on POST /api/v1/collect, one event per request (the hardest way to
 *   carry 2k EPS), p99 <= 40 ms;
 * - seed 004: its k6 profile scaled down in time: ramp to 2k RPS, sustain, spike to 20k RPS,
 *   recover; p95 < 100 ms, p99 < 200 ms, errors < 1%.
 */
import path from 'node:path';
import { LoadGenerator, type LoadResult, type Stage } from '../lib/LoadGenerator.js';
import { collectorBatch, productEvent } from '../lib/Payloads.js';
import { generatorCpu, loadRow, seconds, withService, type BenchContext, type Row, type Scenario } from '../lib/Scenario.js';
import { ServiceProcess } from '../lib/ServiceProcess.js';

function fullPipeline(context: BenchContext, name: string): Promise<ServiceProcess> {
  return ServiceProcess.start({
    mode: 'pipeline',
    logFile: path.join(context.resultsDir, `service-${name}.log`),
    cpuProfDir: context.profileDir ? path.join(context.profileDir, name) : undefined,
  });
}

export const seedScenarios: Scenario = async (context) => {
  const rows: Row[] = [];

  context.log('seed 001: 2k events/s open loop on POST /api/v1/collect');
  rows.push(
    await withService(
      () => fullPipeline(context, 'seed001'),
      async (service) => {
        const load = new LoadGenerator(service.address, 256);
        try {
          const spec = { path: '/api/v1/collect', headers: {}, next: collectorBatch(1) };
          await load.openLoop(spec, [{ name: 'warm-up', durationMs: seconds(context, 3), fromRps: 500, toRps: 2000 }], 5_000);
          const before = await service.stats();
          const gen = generatorCpu();
          const { total } = await load.openLoop(spec, [{ name: 'sustain', durationMs: seconds(context, 20), fromRps: 2000, toRps: 2000 }], 5_000);
          const genCpu = gen();
          const after = await service.stats();
          return loadRow(
            {
              scenario: 'seed 001: 2k EPS',
              route: 'POST /api/v1/collect (1 event/request)',
              target: '2k events/s, p99 <= 40 ms',
              met: total.eventsPerSecond >= 1900 && total.latencyMs.p99 <= 40 && total.errorRate < 0.01,
              note: 'open loop 2,000 req/s x 1 event, full pipeline (ingress + topology + chDB sink)',
            },
            total,
            before,
            after,
            genCpu,
          );
        } finally {
          load.close();
        }
      },
    ),
  );

  context.log('seed 004: ramp to 2k RPS, sustain, 20k RPS spike on POST /events');
  rows.push(
    ...(await withService(
      () => fullPipeline(context, 'seed004'),
      async (service) => {
        const load = new LoadGenerator(service.address, 512);
        try {
          const stages: Stage[] = [
            { name: 'ramp 0->2k', durationMs: seconds(context, 5), fromRps: 100, toRps: 2000 },
            { name: 'sustain 2k', durationMs: seconds(context, 20), fromRps: 2000, toRps: 2000 },
            { name: 'spike 20k', durationMs: seconds(context, 5), fromRps: 20_000, toRps: 20_000 },
            { name: 'recover 2k', durationMs: seconds(context, 5), fromRps: 2000, toRps: 2000 },
          ];
          const before = await service.stats();
          const gen = generatorCpu();
          const { total, stages: perStage } = await load.openLoop({ path: '/events', headers: {}, next: productEvent() }, stages, 20_000);
          const genCpu = gen();
          const after = await service.stats();
          const ok = (r: { latencyMs: { p95: number; p99: number }; errorRate: number }) => r.latencyMs.p95 < 100 && r.latencyMs.p99 < 200 && r.errorRate < 0.01;
          // Where the p99 was spent: the generator's own lateness, waiting for a connection (all held by unanswered requests), the service.
          const waited = (s: LoadResult) => (s.waitedMs ? ` (p99 waits: generator ${s.waitedMs.generator.p99}, connection ${s.waitedMs.connection.p99}, service ${s.waitedMs.service.p99} ms)` : '');
          const stageNote = perStage
            .map((s) => `${s.name}: ${s.requestsPerSecond} req/s ok, p95 ${s.latencyMs.p95} / p99 ${s.latencyMs.p99} ms${waited(s)}, errors ${(s.errorRate * 100).toFixed(2)}%`)
            .join('; ');
          return [
            loadRow(
              {
                scenario: 'seed 004 profile (whole run)',
                route: 'POST /events',
                target: 'p95 < 100 ms, p99 < 200 ms, errors < 1%',
                met: ok(total),
                note: `stages scaled down (5 s ramp, 20 s at 2k, 5 s at 20k, 5 s at 2k); ${stageNote}`,
                detail: { stages: perStage },
              },
              total,
              before,
              after,
              genCpu,
            ),
            ...perStage.map((s) => ({
              scenario: `  seed 004 ${s.name}`,
              route: 'POST /events',
              requestsPerSecond: s.requestsPerSecond,
              eventsPerSecond: s.eventsPerSecond,
              p50Ms: s.latencyMs.p50,
              p95Ms: s.latencyMs.p95,
              p99Ms: s.latencyMs.p99,
              errorRate: s.errorRate,
              met: ok(s),
              detail: { statuses: s.statuses, dropped: s.dropped, waitedMs: s.waitedMs },
            })),
          ];
        } finally {
          load.close();
        }
      },
    )),
  );
  return rows;
};
