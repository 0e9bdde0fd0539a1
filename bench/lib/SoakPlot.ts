/**
 * The soak's plot as hand-written SVG (no chart dependency): four panels over the same time axis
 * (minutes): events/s (offered, accepted, queryable), RSS (total and anonymous, with the budget),
 * lag (end-to-end acked - counted, topology backlog; interval maxima), and DATA_DIR by part (du).
 * Dashed vertical lines mark the phase changes.
 */
import type { SoakRow } from './SoakSampler.js';

interface Series {
  label: string;
  color: string;
  /** undefined = no point for this row (the line breaks there). */
  value: (row: SoakRow) => number | undefined;
  dashed?: boolean;
}

interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

const WIDTH = 960;
const PANEL_HEIGHT = 170;
const MARGIN = { left: 70, right: 170, top: 62, gap: 45 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2 or 5 x 10^n: a tick step giving about `count` ticks up to `top`. */
function niceStep(top: number, count: number): number {
  const raw = top / count;
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? 10 * power;
}

const compact = (value: number) => (value >= 1e6 ? `${value / 1e6}M` : value >= 1e3 ? `${value / 1e3}k` : String(value));

/** `lines` of the title: the first in bold. */
export function soakSvg(rows: SoakRow[], lines: string[], budgetMb: number): string {
  const panels: Panel[] = [
    {
      title: 'events/s',
      unit: 'events/s',
      series: [
        { label: 'offered', color: '#999999', value: (r) => (r.phase === 'sustained' ? r.offered_eps : undefined), dashed: true },
        { label: 'accepted', color: '#1f77b4', value: (r) => r.accepted_eps },
        { label: 'queryable', color: '#2ca02c', value: (r) => r.queryable_eps },
      ],
    },
    {
      title: 'RSS',
      unit: 'MB',
      series: [
        { label: 'RSS', color: '#d62728', value: (r) => r.rss_mb },
        { label: 'RSS anon', color: '#ff9896', value: (r) => r.rss_anon_mb },
        { label: `budget ${budgetMb}`, color: '#000000', value: () => budgetMb, dashed: true },
      ],
    },
    {
      title: 'lag (max per interval)',
      unit: 'events',
      series: [
        { label: 'acked - counted', color: '#9467bd', value: (r) => r.e2e_lag_max },
        { label: 'topology backlog', color: '#8c564b', value: (r) => r.topology_lag_max },
      ],
    },
    {
      title: 'DATA_DIR (du)',
      unit: 'MB',
      series: [
        { label: 'log', color: '#1f77b4', value: (r) => r.disk_log_mb },
        { label: 'state', color: '#ff7f0e', value: (r) => r.disk_state_mb },
        { label: 'chdb', color: '#2ca02c', value: (r) => r.disk_chdb_mb },
        { label: 'other', color: '#bcbd22', value: (r) => r.disk_other_mb },
        { label: 'total', color: '#555555', value: (r) => r.disk_total_mb, dashed: true },
      ],
    },
  ];
  const height = MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.gap);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const lastMinute = Math.max(1, ...rows.map((r) => r.minute));
  const x = (minute: number) => MARGIN.left + (minute / lastMinute) * plotWidth;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...lines.map((text, i) => `<text x="${MARGIN.left}" y="${18 + i * 16}" font-size="${i === 0 ? 14 : 11}"${i === 0 ? ' font-weight="bold"' : ''}>${escape(text)}</text>`),
  ];
  // A row covers the interval up to its minute: a phase begins where the previous row ended.
  const phaseChanges = rows.flatMap((r, i) => (i > 0 && r.phase !== rows[i - 1]!.phase ? [{ minute: rows[i - 1]!.minute, phase: r.phase }] : []));

  panels.forEach((panel, index) => {
    const top = MARGIN.top + index * (PANEL_HEIGHT + MARGIN.gap);
    const bottom = top + PANEL_HEIGHT;
    const peak = Math.max(1, ...rows.flatMap((r) => panel.series.map((s) => s.value(r) ?? 0)));
    const step = niceStep(peak, 4);
    const yTop = Math.ceil(peak / step) * step;
    const y = (value: number) => bottom - (value / yTop) * PANEL_HEIGHT;
    out.push(`<text x="${MARGIN.left}" y="${top - 6}" font-weight="bold">${escape(panel.title)} (${escape(panel.unit)})</text>`);
    for (let tick = 0; tick <= yTop + 1e-9; tick += step) {
      out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#e5e5e5"/>`);
      out.push(`<text x="${MARGIN.left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${compact(Math.round(tick * 100) / 100)}</text>`);
    }
    const minuteStep = niceStep(lastMinute, 8);
    for (let minute = 0; minute <= lastMinute + 1e-9; minute += minuteStep) {
      out.push(`<text x="${x(minute).toFixed(1)}" y="${bottom + 14}" text-anchor="middle">${Math.round(minute * 100) / 100}</text>`);
    }
    out.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#888888"/>`);
    for (const change of phaseChanges) {
      out.push(`<line x1="${x(change.minute).toFixed(1)}" x2="${x(change.minute).toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#444444" stroke-dasharray="3,3"/>`);
      if (index === 0) out.push(`<text x="${(x(change.minute) + 3).toFixed(1)}" y="${top + 12}" fill="#444444">${escape(change.phase)}</text>`);
    }
    panel.series.forEach((series, s) => {
      // One polyline per run of rows that have a value.
      const runs: string[][] = [[]];
      for (const r of rows) {
        const value = series.value(r);
        if (value === undefined) runs.push([]);
        else runs[runs.length - 1]!.push(`${x(r.minute).toFixed(1)},${y(value).toFixed(1)}`);
      }
      for (const points of runs.filter((run) => run.length > 0)) {
        out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${series.color}" stroke-width="1.8"${series.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
      }
      const ly = top + 14 + s * 16;
      out.push(`<line x1="${WIDTH - MARGIN.right + 12}" x2="${WIDTH - MARGIN.right + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
      out.push(`<text x="${WIDTH - MARGIN.right + 38}" y="${ly}">${escape(series.label)}</text>`);
    });
  });
  out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">minutes since start</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
