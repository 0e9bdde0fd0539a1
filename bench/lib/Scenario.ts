/** What every scenario gets and gives back; run-all.ts prints the rows as one table. */
import type { LoadResult } from './LoadGenerator.js';
import { usageBetween, type ServiceProcess, type ServiceStats } from './ServiceProcess.js';

export interface BenchContext {
  /** Multiplies every duration (1 = the documented run; --quick uses 0.25). */
  scale: number;
  resultsDir: string;
  /** When set, the service children of the profiled scenarios run with --cpu-prof into here. */
  profileDir?: string;
  log(line: string): void;
}

export interface Row {
  scenario: string;
  route: string;
  requestsPerSecond?: number;
  eventsPerSecond?: number;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  errorRate?: number;
  serviceCpuPercent?: number;
  servicePeakRssMb?: number;
  loadGenCpuPercent?: number;
  /** p99 of the service's event-loop delay over the window: how long a request can wait behind other work. */
  loopDelayP99Ms?: number;
  target?: string;
  met?: boolean;
  note?: string;
  detail?: unknown;
}

export type Scenario = (context: BenchContext) => Promise<Row[]>;

export function seconds(context: BenchContext, value: number): number {
  return Math.max(1_000, Math.round(value * 1000 * context.scale));
}

/** Load figures + the service's CPU/memory over the same window + the generator's own CPU. */
export function loadRow(base: Omit<Row, 'requestsPerSecond'>, result: LoadResult, before: ServiceStats, after: ServiceStats, genCpu: number): Row {
  const usage = usageBetween(before, after);
  return {
    ...base,
    requestsPerSecond: result.requestsPerSecond,
    eventsPerSecond: base.eventsPerSecond ?? result.eventsPerSecond,
    p50Ms: result.latencyMs.p50,
    p95Ms: result.latencyMs.p95,
    p99Ms: result.latencyMs.p99,
    errorRate: result.errorRate,
    serviceCpuPercent: usage.cpuPercent,
    servicePeakRssMb: usage.peakRssMb,
    loadGenCpuPercent: genCpu,
    loopDelayP99Ms: usage.loopDelayP99Ms,
    detail: { ...((base.detail as object | undefined) ?? {}), loopDelayMaxMs: usage.loopDelayMaxMs, statuses: result.statuses, dropped: result.dropped, requests: result.requests, maxMs: result.latencyMs.max, seconds: result.seconds },
  };
}

/** CPU of this (the load generator's) process over a window, % of one core. */
export function generatorCpu(): () => number {
  const start = process.cpuUsage();
  const at = performance.now();
  return () => {
    const used = process.cpuUsage(start);
    return Math.round((100 * (used.user + used.system)) / ((performance.now() - at) * 1000));
  };
}

/** Runs `measure` against a fresh service and stops it whatever happens. */
export async function withService<T>(start: () => Promise<ServiceProcess>, measure: (service: ServiceProcess) => Promise<T>): Promise<T> {
  const service = await start();
  try {
    return await measure(service);
  } finally {
    await service.stop();
  }
}
