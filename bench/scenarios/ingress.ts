/**
 * Ingress capacity, closed loop, on ROLES=ingress (HTTP + embedded log only, so the figures are
 * the ingress's own): single events on seed 004's POST /events against a bare fastify+ajv
 * baseline measured in the same run, and batches into the embedded log (seed 000's batch of 100,
 * seed 001's collect of 1000, the same gzipped).
 */
import path from 'node:path';
import { LoadGenerator, type RequestSpec } from '../lib/LoadGenerator.js';
import { collectorBatch, gzippedCollectorBatch, productEvent, seed000Batch } from '../lib/Payloads.js';
import { generatorCpu, loadRow, seconds, withService, type BenchContext, type Row, type Scenario } from '../lib/Scenario.js';
import { ServiceProcess } from '../lib/ServiceProcess.js';

const SINGLE_CONNECTIONS = 64;
const BATCH_CONNECTIONS = 8;

function ingressOnly(context: BenchContext, name: string, profiled = false): Promise<ServiceProcess> {
  return ServiceProcess.start({
    mode: 'pipeline',
    env: { ROLES: 'ingress' },
    logFile: path.join(context.resultsDir, `service-${name}.log`),
    cpuProfDir: profiled && context.profileDir ? path.join(context.profileDir, name) : undefined,
  });
}

async function closed(context: BenchContext, service: ServiceProcess, spec: RequestSpec, connections: number, durationS: number) {
  const load = new LoadGenerator(service.address, connections);
  try {
    await load.closedLoop(spec, connections, seconds(context, 2)); // warm-up (JIT, sockets), discarded
    const before = await service.stats();
    const gen = generatorCpu();
    const result = await load.closedLoop(spec, connections, seconds(context, durationS));
    const genCpu = gen();
    const after = await service.stats();
    return { result, before, after, genCpu };
  } finally {
    load.close();
  }
}

export const ingressScenarios: Scenario = async (context) => {
  const rows: Row[] = [];
  const single: RequestSpec = { path: '/events', headers: {}, next: productEvent() };

  // Baseline and ingress alternate (2 rounds each, fresh process each time) and each reports its
  // best round: the machine is shared, and a burst of someone else's load during one window
  // should not decide the ratio.
  type Measured = Awaited<ReturnType<typeof closed>>;
  const rounds: { baseline: Measured[]; ingress: Measured[] } = { baseline: [], ingress: [] };
  for (let round = 1; round <= 2; round++) {
    context.log(`baseline (round ${round}): bare fastify + ajv POST /events`);
    rounds.baseline.push(await withService(() => ServiceProcess.start({ mode: 'baseline' }), (service) => closed(context, service, single, SINGLE_CONNECTIONS, 8)));
    context.log(`ingress (round ${round}): single events on POST /events`);
    rounds.ingress.push(await withService(() => ingressOnly(context, 'ingress-single', round === 1), (service) => closed(context, service, single, SINGLE_CONNECTIONS, 8)));
  }
  const best = (list: Measured[]) => list.reduce((a, b) => (b.result.requestsPerSecond > a.result.requestsPerSecond ? b : a));
  const allRps = (list: Measured[]) => list.map((m) => m.result.requestsPerSecond).join(' / ');
  const b = best(rounds.baseline);
  const i = best(rounds.ingress);
  const ratio = i.result.requestsPerSecond / Math.max(1, b.result.requestsPerSecond);
  const baseline = loadRow(
    { scenario: 'baseline fastify+ajv (single)', route: 'POST /events', note: `${SINGLE_CONNECTIONS} connections, closed loop; best of rounds ${allRps(rounds.baseline)} req/s` },
    b.result,
    b.before,
    b.after,
    b.genCpu,
  );
  rows.push(baseline);
  const landed = i.after.landed - i.before.landed;
  rows.push(
    loadRow(
      {
        scenario: 'ingress single events',
        route: 'POST /events',
        target: '>= 0.5 x baseline, p99 <= 40 ms',
        met: ratio >= 0.5 && i.result.latencyMs.p99 <= 40,
        note: `ratio to baseline ${ratio.toFixed(2)}; best of rounds ${allRps(rounds.ingress)} req/s; ${landed} events landed in the log during the window`,
        detail: { ratioToBaseline: Number(ratio.toFixed(3)), landed, rounds: { baseline: rounds.baseline.map((m) => m.result), ingress: rounds.ingress.map((m) => m.result) } },
      },
      i.result,
      i.before,
      i.after,
      i.genCpu,
    ),
  );

  const batches: Array<{ name: string; route: string; spec: RequestSpec; note?: string }> = [
    { name: 'batch-100', route: 'POST /api/v1/events/batch (seed 000, 100 attempts)', spec: { path: '/api/v1/events/batch', headers: {}, next: seed000Batch(100) } },
    { name: 'batch-1000', route: 'POST /api/v1/collect (seed 001, 1000 events)', spec: { path: '/api/v1/collect', headers: {}, next: collectorBatch(1000) } },
  ];
  const gz = gzippedCollectorBatch(1000);
  batches.push({
    name: 'batch-1000-gzip',
    route: 'POST /api/v1/collect gzip (1000 events)',
    spec: { path: '/api/v1/collect', headers: { 'content-encoding': 'gzip' }, next: gz.next },
    note: `${gz.rawBytes} B -> ${gz.gzipBytes} B gzipped; ids assigned by the ingress`,
  });
  for (const batch of batches) {
    context.log(`ingress: ${batch.name}`);
    rows.push(
      await withService(
        () => ingressOnly(context, `ingress-${batch.name}`, true),
        async (service) => {
          const m = await closed(context, service, batch.spec, BATCH_CONNECTIONS, 10);
          // Events/s into the log: what the landing topic actually grew by (warm-up excluded).
          const landed = m.after.landed - m.before.landed;
          const intoLog = Math.round(landed / ((m.after.at - m.before.at) / 1000));
          return loadRow(
            {
              scenario: `ingress ${batch.name}`,
              route: batch.route,
              eventsPerSecond: intoLog,
              target: '>= 300k events/s into the log',
              met: intoLog >= 300_000,
              note: [`${BATCH_CONNECTIONS} connections, closed loop`, batch.note].filter(Boolean).join('; '),
              detail: { landed },
            },
            m.result,
            m.before,
            m.after,
            m.genCpu,
          );
        },
      ),
    );
  }
  return rows;
};
