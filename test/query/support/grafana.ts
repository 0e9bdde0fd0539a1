import fs from 'node:fs';
import path from 'node:path';

export const GRAFANA_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../deploy/grafana');

export interface GrafanaTarget {
  refId: string;
  datasource: { type: string; uid: string };
  editorType: string;
  queryType: string;
  format: number;
  rawSql: string;
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: GrafanaTarget[];
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  panels: GrafanaPanel[];
  templating: { list: Array<{ name: string; query: string; datasource: { uid: string } }> };
}

export function loadDashboard(): GrafanaDashboard {
  return JSON.parse(fs.readFileSync(path.join(GRAFANA_DIR, 'dashboards/streamline-analytics.json'), 'utf8')) as GrafanaDashboard;
}

/**
 * What Grafana's ClickHouse data source sends for a panel: its macros expanded to literals before
 * the SQL leaves Grafana (plugin 4.x: $__timeFilter(c) → c >= toDateTime(from) AND c <= toDateTime(to)),
 * and the ${var:sqlstring} variable as a quoted string.
 */
export function expandMacros(sql: string, range: { from: number; to: number }, variables: Record<string, string>): string {
  return sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_m, column: string) => `${column.trim()} >= toDateTime(${range.from}) AND ${column.trim()} <= toDateTime(${range.to})`)
    .replace(/\$__fromTime/g, `toDateTime(${range.from})`)
    .replace(/\$__toTime/g, `toDateTime(${range.to})`)
    .replace(/\$\{(\w+):sqlstring\}/g, (_m, name: string) => `'${(variables[name] ?? '').replace(/'/g, "''")}'`);
}
