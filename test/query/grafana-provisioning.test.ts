import fs from 'node:fs';
import path from 'node:path';
import { migrations } from '../../sink/SchemaMigrations.js';
import { readRequest } from '../../query/ReadRequest.js';
import { expandMacros, GRAFANA_DIR, loadDashboard } from './support/grafana.js';

/**
 * docker-compose.yml cannot run here (no Docker): the Grafana provisioning is checked as files.
 * The panels' SQL runs for real against the embedded endpoint in clickhouse-http.e2e.test.ts.
 */
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const datasourceYaml = fs.readFileSync(path.join(GRAFANA_DIR, 'provisioning/datasources/clickhouse.yaml'), 'utf8');
const compose = fs.readFileSync(path.join(repo, 'docker-compose.yml'), 'utf8');
const dashboard = loadDashboard();
const limits = { maxExecutionTimeSeconds: 60, maxResultRows: 1_000_000, maxResultBytes: 100_000_000, maxMemoryUsage: 1_000_000_000 };

describe('Grafana provisioning', () => {
  test('the data source is the ClickHouse plugin, pointed at the compose clickhouse service over HTTP', () => {
    expect(datasourceYaml).toMatch(/^\s+type: grafana-clickhouse-datasource$/m);
    expect(datasourceYaml).toMatch(/^\s+uid: streamline-clickhouse$/m);
    expect(datasourceYaml).toMatch(/^\s+host: clickhouse$/m);
    expect(datasourceYaml).toMatch(/^\s+port: 8123$/m);
    expect(datasourceYaml).toMatch(/^\s+protocol: http$/m);
    expect(datasourceYaml).toMatch(/^\s+defaultDatabase: events_db$/m);
    expect(compose).toMatch(/^ {2}clickhouse:$/m);
  });

  test('docker-compose mounts the provisioning and dashboards that exist and installs the plugin', () => {
    const grafana = compose.slice(compose.indexOf('\n  grafana:'));
    expect(grafana).toMatch(/GF_INSTALL_PLUGINS: grafana-clickhouse-datasource/);
    const mounts = [...grafana.matchAll(/- \.\/(deploy\/grafana\/[\w/]+):([\w/]+):ro/g)];
    expect(mounts).toHaveLength(2);
    for (const [, source, target] of mounts) {
      expect(fs.existsSync(path.join(repo, source!))).toBe(true);
      expect(target).toMatch(/^\/(etc\/grafana\/provisioning|var\/lib\/grafana\/dashboards)$/);
    }
    expect(fs.readFileSync(path.join(GRAFANA_DIR, 'provisioning/dashboards/streamline.yaml'), 'utf8')).toMatch(/path: \/var\/lib\/grafana\/dashboards/);
  });

  test('the dashboard: unique panel ids, on the grid, every query on the provisioned data source', () => {
    expect(dashboard.uid).toBe('streamline-analytics');
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      expect(panel.datasource.uid).toBe('streamline-clickhouse');
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) {
        expect(target.datasource).toEqual({ type: 'grafana-clickhouse-datasource', uid: 'streamline-clickhouse' });
        expect(target.editorType).toBe('sql');
        expect(['timeseries', 'table']).toContain(target.queryType);
      }
    }
    expect(dashboard.templating.list.map((v) => v.datasource.uid)).toEqual(['streamline-clickhouse']);
  });

  test('panels read window_aggregates and event_metrics_hourly, tables the schema has, and pass the read-only guard', () => {
    const tables = new Set(
      migrations({ database: 'events_db', eventsTtlDays: 0 }).flatMap((m) => m.statements.map((s) => /CREATE TABLE IF NOT EXISTS events_db\.(\w+)/.exec(s)?.[1])).filter(Boolean),
    );
    const read = new Set<string>();
    for (const sql of [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.rawSql)), ...dashboard.templating.list.map((v) => v.query)]) {
      for (const [, table] of sql.matchAll(/events_db\.(\w+)/g)) {
        expect(tables).toContain(table);
        read.add(table!);
      }
      const expanded = expandMacros(sql, { from: 1_700_000_000, to: 1_700_086_400 }, { event_name: "it's" });
      expect(expanded).not.toMatch(/\$/);
      expect(readRequest({ params: new URLSearchParams(), body: expanded, limits, database: 'events_db', maxQueryBytes: 65_536 }).kind).toBe('select');
    }
    expect([...read].sort()).toEqual(['event_metrics_hourly', 'window_aggregates']);
  });
});
