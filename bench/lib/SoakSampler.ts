/**
 * The soak's measurements: a probe every few seconds (lag and the queryable count, so a row's
 * maximum is not just the value at the minute's edge) and one row per interval (default a
 * minute) with what a user and an operator see: accepted and queryable events/s, lag, RSS,
 * DATA_DIR by part, the HTTP thread's event-loop delay, and the machine's load average (the
 * machine may be shared).
 */
import os from 'node:os';
import { metricSum, type NpmStartService } from './NpmStartService.js';
import type { SoakLoad } from './SoakLoad.js';

export interface SoakRow {
  minute: number;
  phase: string;
  offered_eps: number;
  accepted_eps: number;
  refused_requests: number;
  error_requests: number;
  skipped_requests: number;
  http_p99_ms: number;
  queryable_eps: number;
  acked_total: number;
  counted_total: number;
  /** Acknowledged but not yet counted in ClickHouse (end-to-end lag, events) at the row's end / its max over the interval. */
  e2e_lag: number;
  e2e_lag_max: number;
  /** streamline_topology_backlog_records: landing records accepted, not yet committed by the topology. */
  topology_lag: number;
  topology_lag_max: number;
  sink_lag: number;
  rss_mb: number;
  rss_anon_mb: number;
  rss_file_mb: number;
  heap_used_mb: number;
  service_cpu_pct: number;
  /** The HTTP thread's event-loop delay: the worst probe window's p99, and the max, over the interval. */
  loop_p99_ms: number;
  loop_max_ms: number;
  disk_log_mb: number;
  disk_state_mb: number;
  disk_chdb_mb: number;
  disk_buffer_mb: number;
  /** DATA_DIR outside log, state, chdb and buffer. */
  disk_other_mb: number;
  disk_total_mb: number;
  load1: number;
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

export class SoakSampler {
  readonly rows: SoakRow[] = [];
  private readonly startedAt = performance.now();
  private phase = 'start';
  private offered = 0;
  private last = { at: performance.now(), acked: 0, counted: 0, refused: 0, errors: 0, skipped: 0, cpu: 0 };
  private counted = 0;
  private maxima = { e2e: 0, topology: 0, loopP99: 0, loopMax: 0 };
  private lastMetrics = '';
  private probeTimer?: NodeJS.Timeout;
  private rowTimer?: NodeJS.Timeout;
  private probing?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly service: NpmStartService,
    private readonly load: SoakLoad,
    private readonly options: { rowMs: number; probeMs: number; onRow(row: SoakRow): void },
  ) {
    this.last.cpu = service.cpuSeconds();
  }

  /** Rows from now on carry this phase name and offered rate (0 = as fast as accepted). */
  setPhase(phase: string, offeredEventsPerSecond: number): void {
    this.phase = phase;
    this.offered = offeredEventsPerSecond;
  }

  start(): void {
    this.probeTimer = setInterval(() => void this.probe(), this.options.probeMs);
    this.scheduleRows();
  }

  /** Rows every rowMs from now: after a row taken at a phase's end, the next interval is a whole one. */
  private scheduleRows(): void {
    clearInterval(this.rowTimer);
    this.rowTimer = setInterval(() => void this.row(), this.options.rowMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    clearInterval(this.rowTimer);
    await this.probing;
  }

  /** Rows in ClickHouse's events table: what a user's query sees. */
  async countQueryable(): Promise<number> {
    this.counted = Number(await this.service.sql('SELECT count() FROM events_db.events_raw'));
    return this.counted;
  }

  private async probe(): Promise<void> {
    if (this.probing) return; // a slow answer (the machine is busy) is not stacked
    this.probing = (async () => {
      try {
        const counted = await this.countQueryable();
        this.maxima.e2e = Math.max(this.maxima.e2e, this.load.counters.ackedEvents - counted);
        const text = await this.service.metricsText();
        this.lastMetrics = text;
        this.maxima.topology = Math.max(this.maxima.topology, metricSum(text, 'streamline_topology_backlog_records') ?? 0);
        // prom-client resets its event-loop histogram at every scrape: each probe sees the HTTP thread since the previous one.
        this.maxima.loopP99 = Math.max(this.maxima.loopP99, metricSum(text, 'nodejs_eventloop_lag_p99_seconds') ?? 0);
        this.maxima.loopMax = Math.max(this.maxima.loopMax, metricSum(text, 'nodejs_eventloop_lag_max_seconds') ?? 0);
      } catch {
        // a probe that fails (service busy) leaves the maxima as they are; the row says what it saw
      } finally {
        this.probing = undefined;
      }
    })();
    await this.probing;
  }

  /** One row now (also called at phase ends, so a phase's last partial interval is not lost). */
  async row(): Promise<SoakRow> {
    if (!this.stopped) this.scheduleRows();
    await this.probing;
    await this.probe();
    const now = performance.now();
    const seconds = (now - this.last.at) / 1000;
    const counters = this.load.counters;
    const text = this.lastMetrics;
    const rss = this.service.rssBytes();
    const disk = this.service.diskBytes();
    const cpu = this.service.cpuSeconds();
    const counted = this.counted;
    const topology = metricSum(text, 'streamline_topology_backlog_records') ?? 0;
    const row: SoakRow = {
      minute: round((now - this.startedAt) / 60_000, 2),
      phase: this.phase,
      offered_eps: this.offered,
      accepted_eps: round((counters.ackedEvents - this.last.acked) / seconds),
      refused_requests: counters.refused - this.last.refused,
      error_requests: counters.errors - this.last.errors,
      skipped_requests: counters.skipped - this.last.skipped,
      http_p99_ms: round(p99(this.load.takeLatencies()), 1),
      queryable_eps: round((counted - this.last.counted) / seconds),
      acked_total: counters.ackedEvents,
      counted_total: counted,
      e2e_lag: counters.ackedEvents - counted,
      e2e_lag_max: Math.max(this.maxima.e2e, counters.ackedEvents - counted),
      topology_lag: topology,
      topology_lag_max: Math.max(this.maxima.topology, topology),
      sink_lag: metricSum(text, 'streamline_sink_lag_records') ?? 0,
      rss_mb: mb(rss.rss),
      rss_anon_mb: mb(rss.anon),
      rss_file_mb: mb(rss.file),
      heap_used_mb: mb(metricSum(text, 'nodejs_heap_size_used_bytes') ?? 0),
      service_cpu_pct: round((100 * (cpu - this.last.cpu)) / seconds),
      loop_p99_ms: round(1000 * this.maxima.loopP99, 1),
      loop_max_ms: round(1000 * this.maxima.loopMax, 1),
      disk_log_mb: mb(disk.log),
      disk_state_mb: mb(disk.state),
      disk_chdb_mb: mb(disk.chdb),
      disk_buffer_mb: mb(disk.buffer),
      disk_other_mb: mb(disk.total - disk.log - disk.state - disk.chdb - disk.buffer),
      disk_total_mb: mb(disk.total),
      load1: round(os.loadavg()[0]!, 2),
    };
    this.last = { at: now, acked: counters.ackedEvents, counted, refused: counters.refused, errors: counters.errors, skipped: counters.skipped, cpu };
    this.maxima = { e2e: 0, topology: 0, loopP99: 0, loopMax: 0 };
    this.rows.push(row);
    this.options.onRow(row);
    return row;
  }
}

export function toCsv(rows: SoakRow[]): string {
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]!) as Array<keyof SoakRow>;
  return [columns.join(','), ...rows.map((row) => columns.map((column) => String(row[column])).join(','))].join('\n') + '\n';
}
