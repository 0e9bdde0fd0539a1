/**
 * Issue 13: the service as users run it (`npm start`: every role, embedded defaults) under wrk
 * (1 thread, 32 connections, single seed 004 events), beside a bare fastify + ajv route measured
 * in the same run, for SINGLE_THREAD=true (everything on the HTTP thread, as before issue 13) and
 * STREAM_THREADS=1 and 2. Reports the HTTP thread's event-loop delay, peak RSS, and whether the
 * pipeline kept up: the landing backlog (streamline_topology_backlog_records) before and after the
 * window, and how long it took to drain once the load stopped.
 */
import path from 'node:path';
import type { BenchContext, Row, Scenario } from '../lib/Scenario.js';
import { ServiceProcess, usageBetween } from '../lib/ServiceProcess.js';
import { hasWrk, wrkSingleEvents, type WrkResult } from '../lib/Wrk.js';

const CONNECTIONS = 32;
const DRAIN_LIMIT_MS = 60_000;

interface Variant {
  name: string;
  mode: 'baseline' | 'pipeline';
  env?: Record<string, string>;
}

const VARIANTS: Variant[] = [
  { name: 'baseline: bare fastify + ajv', mode: 'baseline' },
  { name: 'npm start, SINGLE_THREAD=true (before issue 13)', mode: 'pipeline', env: { SINGLE_THREAD: 'true' } },
  { name: 'npm start, STREAM_THREADS=1', mode: 'pipeline', env: { STREAM_THREADS: '1' } },
  { name: 'npm start, STREAM_THREADS=2', mode: 'pipeline', env: { STREAM_THREADS: '2' } },
];

async function backlog(address: string): Promise<number | undefined> {
  const text = await (await fetch(`${address}/metrics/prometheus`)).text();
  const line = text.split('\n').find((l) => l.startsWith('streamline_topology_backlog_records '));
  return line ? Number(line.split(' ')[1]) : undefined;
}

/** Waits (polling the service's own metric) until the backlog is 0: how long the pipeline needed to catch up. */
async function drainMs(address: string): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < DRAIN_LIMIT_MS) {
    if ((await backlog(address)) === 0) return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return undefined;
}

async function measure(context: BenchContext, variant: Variant, seconds: number) {
  const service = await ServiceProcess.start({ mode: variant.mode, env: variant.env, logFile: path.join(context.resultsDir, `service-threads-${variant.env?.STREAM_THREADS ?? variant.env?.SINGLE_THREAD ?? 'baseline'}.log`) });
  try {
    if (variant.mode === 'pipeline') {
      // Ready means topology and sink run: the measured window is not the start.
      for (let i = 0; i < 240 && (await fetch(`${service.address}/ready`)).status !== 200; i++) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await wrkSingleEvents(service.address, CONNECTIONS, Math.max(2, Math.round(3 * context.scale))); // warm-up, discarded
    const lagBefore = variant.mode === 'pipeline' ? await backlog(service.address) : undefined;
    const before = await service.stats();
    const result = await wrkSingleEvents(service.address, CONNECTIONS, seconds);
    const after = await service.stats();
    const lagAfter = variant.mode === 'pipeline' ? await backlog(service.address) : undefined;
    const drained = variant.mode === 'pipeline' ? await drainMs(service.address) : undefined;
    return { result, usage: usageBetween(before, after), lagBefore, lagAfter, drained };
  } finally {
    await service.stop();
  }
}

function row(variant: Variant, m: Awaited<ReturnType<typeof measure>>, baseline: WrkResult | undefined): Row {
  const ratio = baseline ? m.result.requestsPerSecond / Math.max(1, baseline.requestsPerSecond) : undefined;
  const keptUp = m.drained !== undefined && m.drained <= 2_000;
  const isPipeline = variant.mode === 'pipeline';
  return {
    scenario: `threads: ${variant.name}`,
    route: 'POST /events (wrk -t1 -c32, single seed 004 events)',
    requestsPerSecond: Math.round(m.result.requestsPerSecond),
    eventsPerSecond: Math.round(m.result.requestsPerSecond * (1 - m.result.non2xx / Math.max(1, m.result.requests))),
    p50Ms: m.result.latencyMs.p50,
    p99Ms: m.result.latencyMs.p99,
    errorRate: (m.result.non2xx + m.result.socketErrors) / Math.max(1, m.result.requests),
    serviceCpuPercent: m.usage.cpuPercent,
    servicePeakRssMb: m.usage.peakRssMb,
    loopDelayP99Ms: m.usage.loopDelayP99Ms,
    target: isPipeline && variant.env?.SINGLE_THREAD !== 'true' ? '>= 0.5x baseline, p99 <= 40 ms, keeps up' : undefined,
    met: isPipeline && variant.env?.SINGLE_THREAD !== 'true' ? (ratio ?? 0) >= 0.5 && m.result.latencyMs.p99 <= 40 && keptUp : undefined,
    note: isPipeline
      ? `${ratio?.toFixed(2)}x baseline; refused (503) ${m.result.non2xx}; backlog ${m.lagBefore} -> ${m.lagAfter}; drained in ${m.drained === undefined ? `> ${DRAIN_LIMIT_MS / 1000} s` : `${(m.drained / 1000).toFixed(1)} s`}`
      : undefined,
    detail: { wrk: m.result, lagBefore: m.lagBefore, lagAfter: m.lagAfter, drainMs: m.drained, ratio, loopDelayMaxMs: m.usage.loopDelayMaxMs },
  };
}

export const threadsScenario: Scenario = async (context) => {
  if (!hasWrk()) {
    context.log('threads: wrk is not installed (apt-get install wrk): skipped');
    return [];
  }
  const seconds = Math.max(3, Math.round(20 * context.scale));
  const rows: Row[] = [];
  let baseline: WrkResult | undefined;
  for (const variant of VARIANTS) {
    context.log(`threads: ${variant.name}, wrk ${seconds} s`);
    const measured = await measure(context, variant, seconds);
    if (variant.mode === 'baseline') baseline = measured.result;
    rows.push(row(variant, measured, baseline));
  }
  return rows;
};
