/**
 * Issue 21's Done-when lines for the soak, computed from the rows:
 * - RSS under the budget (every row of the sustained and full-capacity phases);
 * - RSS flat over the last 20 minutes of the sustained phase: least-squares slope (MB/min) and
 *   max - min; "flat" = the slope over that window moves RSS by less than 5% of the budget;
 * - lag bounded: in the last 20 minutes neither the end-to-end lag (acked - counted) nor the
 *   topology backlog exceeds 2x its maximum in the first 10 minutes (+ 5 s of offered events, so a
 *   near-zero start is no trap), and the topology never reached MAX_TOPOLOGY_LAG (no refusals);
 * - throughput: accepted and queryable events/s of the last 5 minutes >= 0.9x the first 5;
 * - disk: growth per minute of log, state and chdb in the first and second half (figures: the
 *   default retention keeps the landing log, so it grows with events; window stores are bounded);
 * - acked == counted after the drain, exactly.
 * Windows shrink in proportion for a shorter run (20 of 30 minutes = the last two thirds).
 */
import type { SoakRow } from './SoakSampler.js';

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
const max = (values: number[]) => values.reduce((a, b) => Math.max(a, b), 0);
const fixed = (value: number, digits = 1) => value.toFixed(digits);

export interface SoakFacts {
  rows: SoakRow[];
  sustainedMinutes: number;
  /** The rows' clock (minutes since sampling began) when the sustained phase started. */
  sustainedStartMinute: number;
  rate: number;
  budgetMb: number;
  maxTopologyLag: number;
  acked: number;
  counted: number;
  drainSeconds: number | undefined;
}

export function soakChecks(facts: SoakFacts): Check[] {
  const { rows, sustainedMinutes: minutes, rate, budgetMb } = facts;
  const sustained = rows.filter((r) => r.phase === 'sustained');
  const capacity = rows.filter((r) => r.phase === 'capacity');
  const at = (r: SoakRow) => r.minute - facts.sustainedStartMinute; // minutes since the sustained phase began (row ends)
  const scale = minutes / 30;
  // At least one row per window, however short the run is against the row interval.
  const firstRows = (span: number) => sustained.filter((r, i) => i === 0 || at(r) <= span + 1e-9);
  const lastRows = (span: number) => sustained.filter((r, i) => i === sustained.length - 1 || at(r) > minutes - span + 1e-9);
  const lastWindow = lastRows(20 * scale);
  const firstTen = firstRows(10 * scale);
  const firstFive = firstRows(5 * scale);
  const lastFive = lastRows(5 * scale);
  const checks: Check[] = [];

  const rssMax = max(sustained.map((r) => r.rss_mb));
  checks.push({ name: 'sustained: RSS under the budget', pass: rssMax <= budgetMb, detail: `max ${fixed(rssMax)} MB vs budget ${budgetMb} MB (anon max ${fixed(max(sustained.map((r) => r.rss_anon_mb)))} MB)` });

  const rssSlope = slope(lastWindow.map((r) => [at(r), r.rss_mb]));
  const rssRange = max(lastWindow.map((r) => r.rss_mb)) - Math.min(...lastWindow.map((r) => r.rss_mb));
  const windowMinutes = 20 * scale;
  checks.push({
    name: `sustained: RSS flat over the last ${fixed(windowMinutes, 0)} min`,
    pass: lastWindow.length >= 2 && Math.abs(rssSlope * windowMinutes) < 0.05 * budgetMb,
    detail: `slope ${fixed(rssSlope, 2)} MB/min (${fixed(rssSlope * windowMinutes)} MB over the window; flat < ${fixed(0.05 * budgetMb)}), max - min ${fixed(rssRange)} MB`,
  });

  const allowance = rate * 5;
  const e2eFirst = max(firstTen.map((r) => r.e2e_lag_max));
  const e2eLast = max(lastWindow.map((r) => r.e2e_lag_max));
  const topoFirst = max(firstTen.map((r) => r.topology_lag_max));
  const topoLast = max(lastWindow.map((r) => r.topology_lag_max));
  const refused = sustained.reduce((s, r) => s + r.refused_requests, 0);
  checks.push({
    name: 'sustained: lag bounded',
    pass: e2eLast <= 2 * e2eFirst + allowance && topoLast <= 2 * topoFirst + allowance && max(sustained.map((r) => r.topology_lag_max)) < facts.maxTopologyLag && refused === 0,
    detail: `end-to-end (acked - counted) max ${e2eFirst} in the first ${fixed(10 * scale, 0)} min, ${e2eLast} in the last ${fixed(windowMinutes, 0)}; topology backlog max ${topoFirst} -> ${topoLast} (MAX_TOPOLOGY_LAG ${facts.maxTopologyLag}); refused requests ${refused}`,
  });

  const acceptedFirst = mean(firstFive.map((r) => r.accepted_eps));
  const acceptedLast = mean(lastFive.map((r) => r.accepted_eps));
  const queryableFirst = mean(firstFive.map((r) => r.queryable_eps));
  const queryableLast = mean(lastFive.map((r) => r.queryable_eps));
  checks.push({
    name: 'sustained: throughput of the last 5 min >= 0.9x the first 5',
    pass: acceptedLast >= 0.9 * acceptedFirst && queryableLast >= 0.9 * queryableFirst,
    detail: `accepted ${fixed(acceptedFirst, 0)} -> ${fixed(acceptedLast, 0)} events/s (${fixed(acceptedLast / Math.max(1, acceptedFirst), 2)}x), queryable ${fixed(queryableFirst, 0)} -> ${fixed(queryableLast, 0)} events/s (${fixed(queryableLast / Math.max(1, queryableFirst), 2)}x); offered ${rate}`,
  });

  const half = Math.floor(sustained.length / 2);
  const growth = (part: 'disk_log_mb' | 'disk_state_mb' | 'disk_chdb_mb', from: SoakRow[]) =>
    from.length < 2 ? 0 : (from[from.length - 1]![part] - from[0]![part]) / (from[from.length - 1]!.minute - from[0]!.minute);
  const last = sustained[sustained.length - 1];
  const perEvent = (bytesMb: number) => (last && last.acked_total > 0 ? (bytesMb * 1048576) / last.acked_total : 0);
  const parts = (['disk_log_mb', 'disk_state_mb', 'disk_chdb_mb'] as const)
    .map((part) => `${part.slice(5, -3)} ${fixed(growth(part, sustained.slice(0, half + 1)))} -> ${fixed(growth(part, sustained.slice(half)))} MB/min (${fixed(perEvent(last?.[part] ?? 0), 0)} B/event at the end)`)
    .join('; ');
  const stateFirst = growth('disk_state_mb', sustained.slice(0, half + 1));
  const stateLast = growth('disk_state_mb', sustained.slice(half));
  checks.push({
    name: 'sustained: disk grows as retention says (landing log kept: grows with events; window state bounded)',
    pass: stateLast <= Math.max(1, 1.5 * stateFirst),
    detail: `growth first half -> second half: ${parts}; total ${last?.disk_total_mb ?? 0} MB at the end`,
  });

  const capacityRss = max(capacity.map((r) => r.rss_mb));
  checks.push({
    name: 'capacity: the budget holds',
    pass: capacity.length > 0 && capacityRss <= budgetMb,
    detail: `max RSS ${fixed(capacityRss)} MB vs ${budgetMb} MB; accepted ${fixed(mean(capacity.map((r) => r.accepted_eps)), 0)} events/s on average, refused requests ${capacity.reduce((s, r) => s + r.refused_requests, 0)}`,
  });

  checks.push({
    name: 'acked = counted after drain',
    pass: facts.acked === facts.counted,
    detail: `acked ${facts.acked}, counted ${facts.counted} (difference ${facts.counted - facts.acked}); drain ${facts.drainSeconds === undefined ? 'did not finish' : `${fixed(facts.drainSeconds, 0)} s`}`,
  });
  return checks;
}
