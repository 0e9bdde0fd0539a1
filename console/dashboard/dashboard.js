/*
 * The dashboard: reads only the service's public routes —
 *   GET /metrics (Prometheus text, parsed here), GET /ready,
 *   GET /dashboard/query (issue 15: event_metrics_hourly through the read-only query layer) or,
 *   without an embedded store, GET /metrics?event_name=...&group_by=hour|channel (seed 004),
 *   GET /processor/aggregation?aggregator=...&key=... (seed 002, interactive queries) —
 * and redraws every 2 s (?refresh=ms to change). A route that is absent or not configured turns
 * its panel into a note saying so; the rest keeps working.
 */
/* global window, document, fetch, location, URLSearchParams, Chart */
(function () {
  'use strict';
  const P = window.StreamlineProm;
  const params = new URLSearchParams(location.search);
  const REFRESH_MS = Math.max(250, Number(params.get('refresh')) || 2000);
  const POINTS = 60;
  const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

  const state = { refreshes: 0, analyticsRefreshes: 0, previous: null, previousBuckets: null, errors: [] };
  const charts = {};
  window.streamlineDashboard = { state, charts };

  if (params.get('event_name')) document.getElementById('event-names').value = params.get('event_name');
  if (params.get('user')) document.getElementById('agg-user').value = params.get('user');
  if (params.get('item')) document.getElementById('agg-item').value = params.get('item');
  if (params.get('jurisdiction')) document.getElementById('agg-jurisdiction').value = params.get('jurisdiction');

  const baseOptions = (extra) => ({
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
    ...extra,
  });

  function makeChart(id, type, datasets, options) {
    const chart = new Chart(document.getElementById(id), {
      type,
      data: { labels: [], datasets: datasets.map((label, i) => ({ label, data: [], borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], pointRadius: 0, tension: 0.2 })) },
      options: baseOptions(options),
    });
    charts[id.replace(/^chart-/, '')] = chart;
    return chart;
  }

  makeChart('chart-rates', 'line', ['received/s', 'accepted/s', 'rejected/s', 'processed/s'], { scales: { y: { beginAtZero: true } } });
  makeChart('chart-lag', 'bar', ['records behind'], { scales: { y: { beginAtZero: true } } });
  makeChart('chart-events-hourly', 'line', [], { scales: { y: { beginAtZero: true } } });
  makeChart('chart-users-hourly', 'line', [], { scales: { y: { beginAtZero: true } } });
  makeChart('chart-channels', 'bar', [], { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } });
  makeChart('chart-throughput', 'bar', ['events per window'], { scales: { y: { beginAtZero: true } } });

  const fmt = (n) => (n === null || n === undefined || Number.isNaN(n) ? '—' : Math.abs(n) >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : Math.abs(n) >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : String(Math.round(n * 100) / 100));
  const bytes = (n) => (n === null ? '—' : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : (n / 1048576).toFixed(1) + ' MiB');
  const clock = (ms) => new Date(ms).toISOString().slice(11, 19);
  const hour = (ms) => new Date(ms).toISOString().slice(5, 13).replace('T', ' ') + 'h';

  function tile(id, total, rate, text) {
    const el = document.getElementById(id);
    el.dataset.total = total === null ? '' : String(total);
    el.querySelector('.value').textContent = text ?? fmt(total);
    el.querySelector('.rate').textContent = rate === null || rate === undefined ? '' : fmt(rate) + '/s';
  }

  function note(id, text, unavailable) {
    const el = document.getElementById(id);
    el.textContent = text;
    el.classList.toggle('unavailable', Boolean(unavailable));
  }

  function table(id, header, rows, empty) {
    const el = document.getElementById(id);
    const head = '<thead><tr>' + header.map((h) => '<th>' + h + '</th>').join('') + '</tr></thead>';
    const body = rows.length
      ? rows.map((r) => '<tr>' + r.map((c) => '<td>' + String(c).replace(/[<&]/g, (ch) => (ch === '<' ? '&lt;' : '&amp;')) + '</td>').join('') + '</tr>').join('')
      : '<tr><td class="muted" colspan="' + header.length + '">' + empty + '</td></tr>';
    el.innerHTML = head + '<tbody>' + body + '</tbody>';
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: 'application/json' } });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { status: response.status, body };
  }

  // ---- pipeline view ----------------------------------------------------------------------
  function totals(samples) {
    const outcome = (name) => P.sum(samples, 'streamline_processor_events_total', { outcome: name });
    const add = (...values) => (values.every((v) => v === null) ? null : values.reduce((a, v) => a + (v ?? 0), 0));
    return {
      received: P.sum(samples, 'streamline_ingress_events_received_total'),
      accepted: P.sum(samples, 'streamline_ingress_events_accepted_total'),
      rejected: P.sum(samples, 'streamline_ingress_events_rejected_total'),
      duplicates: add(P.sum(samples, 'streamline_ingress_events_duplicate_total'), outcome('duplicate')),
      processed: P.sum(samples, 'streamline_topology_records_processed_total'),
      dlq: add(P.sum(samples, 'streamline_ingress_events_dlq_total'), P.sum(samples, 'streamline_topology_dlq_total'), outcome('blocked')),
      late: outcome('late'),
      commitSum: P.sum(samples, 'streamline_topology_commit_latency_seconds_sum'),
      commitCount: P.sum(samples, 'streamline_topology_commit_latency_seconds_count'),
    };
  }

  function rate(now, before, key, seconds) {
    if (!before || now[key] === null || seconds <= 0) return null;
    // A labelled counter has no sample until its first increment: absent before means 0.
    return Math.max(0, (now[key] - (before[key] ?? 0)) / seconds);
  }

  async function refreshPipeline() {
    const at = Date.now();
    const response = await fetch('/metrics', { headers: { accept: 'text/plain' } });
    if (!response.ok) throw new Error('GET /metrics answered ' + response.status);
    const samples = P.parse(await response.text());
    const now = totals(samples);
    const before = state.previous;
    const seconds = before ? (at - before.at) / 1000 : 0;
    const r = (key) => rate(now, before, key, seconds);

    tile('stat-received', now.received, r('received'));
    tile('stat-accepted', now.accepted, r('accepted'));
    tile('stat-rejected', now.rejected, r('rejected'));
    tile('stat-duplicates', now.duplicates, r('duplicates'));
    tile('stat-processed', now.processed, r('processed'));
    tile('stat-dlq', now.dlq, r('dlq'));
    tile('stat-late', now.late, r('late'));

    const buckets = P.buckets(samples, 'streamline_topology_commit_latency_seconds');
    // Over the last refresh when the topology committed in it (it commits only when it has work), else since start.
    const recent = before && now.commitCount !== null && now.commitCount > before.commitCount;
    const commits = recent ? now.commitCount - before.commitCount : (now.commitCount ?? 0);
    const commitSeconds = recent ? now.commitSum - before.commitSum : (now.commitSum ?? 0);
    const avgMs = commits > 0 ? (commitSeconds / commits) * 1000 : null;
    const p99 = P.quantile(0.99, buckets, recent ? state.previousBuckets : null);
    tile('stat-commit', now.commitCount, null, avgMs === null ? '—' : fmt(avgMs) + ' ms');
    document.getElementById('stat-commit').querySelector('.rate').textContent =
      p99 === null ? '' : 'p99 ' + (p99 === Infinity ? '> 2.5 s' : '≤ ' + fmt(p99 * 1000) + ' ms') + (recent ? ' · last ' + commits + ' commits' : ' · since start');
    const spool = P.sum(samples, 'streamline_ingress_spool_bytes');
    tile('stat-spool', spool, null, bytes(spool));
    document.getElementById('stat-spool').querySelector('.rate').textContent = fmt(P.sum(samples, 'streamline_ingress_spool_records') ?? 0) + ' records';

    const reasons = P.sumBy(samples, 'streamline_ingress_events_rejected_total', 'reason');
    const topologyReasons = P.sumBy(samples, 'streamline_topology_dlq_total', 'reason');
    const rows = Object.entries(reasons).map(([k, v]) => ['ingress: ' + k, v]).concat(Object.entries(topologyReasons).map(([k, v]) => ['topology DLQ: ' + k, v]));
    table('rejected-reasons', ['reason', 'events'], rows.filter((row) => row[1] > 0).sort((a, b) => b[1] - a[1]), 'none');

    if (before) {
      const chart = charts.rates;
      chart.data.labels.push(clock(at));
      ['received', 'accepted', 'rejected', 'processed'].forEach((key, i) => chart.data.datasets[i].data.push(r(key) ?? 0));
      if (chart.data.labels.length > POINTS) {
        chart.data.labels.shift();
        chart.data.datasets.forEach((d) => d.data.shift());
      }
      chart.update();
    }

    const lag = samples.filter((s) => s.name === 'streamline_topology_consumer_lag' || s.name === 'streamline_sink_lag_records');
    const lagChart = charts.lag;
    lagChart.data.labels = lag.map((s) => (s.name === 'streamline_sink_lag_records' ? 'sink ' : '') + s.labels.topic + '/' + s.labels.partition);
    lagChart.data.datasets[0].data = lag.map((s) => s.value);
    lagChart.update();
    note('lag-note', lag.length ? '' : 'no partitions assigned yet (the topology reports lag once it runs)', !lag.length);

    state.previous = { ...now, at };
    state.previousBuckets = buckets;
  }

  // ---- analytics view ---------------------------------------------------------------------
  const eventNames = () => document.getElementById('event-names').value.split(',').map((s) => s.trim()).filter(Boolean);

  function unavailable(route, result) {
    const reason = result.body && (result.body.error || result.body.detail);
    return route + ' answered ' + result.status + (reason ? ': ' + reason : '') + (result.status === 404 ? ' (not available on this instance)' : '');
  }

  // Issue 15: with the embedded store, the panels read event_metrics_hourly through the query layer
  // (GET /dashboard/query: the read-only ClickHouse HTTP interface's checks, limits and own chDB
  // connection, so refreshes never queue behind the sink). Without it (a ClickHouse server, or
  // CLICKHOUSE_HTTP_PORT=off) the route is absent and seed 004's GET /metrics answers instead.
  const HOURLY_WHERE = "FROM event_metrics_hourly WHERE has({names:Array(String)}, event_name)" +
    " AND hour >= toStartOfHour(toDateTime({from:UInt32}, 'UTC')) AND hour <= toDateTime({to:UInt32}, 'UTC')";
  const arrayParam = (values) => '[' + values.map((v) => "'" + v.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'").join(',') + ']';
  let queryLayerAbsent = false;

  async function layerRows(sql, names, from, to) {
    const url = '/dashboard/query?default_format=JSONEachRow&query=' + encodeURIComponent(sql) +
      '&param_names=' + encodeURIComponent(arrayParam(names)) + '&param_from=' + from + '&param_to=' + to;
    const response = await fetch(url);
    const text = await response.text();
    if (response.status === 404 && !response.headers.get('x-clickhouse-exception-code')) return null;
    if (!response.ok) throw new Error(text.trim());
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  }

  async function readThroughQueryLayer(names, from, to) {
    if (queryLayerAbsent) return null;
    const totals = 'toUInt64(sum(total_events)) AS total_events, toUInt64(uniqExactMerge(unique_users)) AS unique_users ';
    const [hours, channels] = await Promise.all([
      layerRows('SELECT event_name, toUnixTimestamp(hour) AS h, ' + totals + HOURLY_WHERE + ' GROUP BY event_name, hour ORDER BY hour', names, from, to),
      layerRows('SELECT event_name, channel, ' + totals + HOURLY_WHERE + ' GROUP BY event_name, channel ORDER BY total_events DESC, channel ASC', names, from, to),
    ]);
    if (!hours || !channels) {
      queryLayerAbsent = true;
      return null;
    }
    const byHour = {};
    const channelRows = {};
    for (const name of names) {
      byHour[name] = hours.filter((r) => r.event_name === name)
        .map((r) => ({ group: new Date(Number(r.h) * 1000).toISOString().replace('.000Z', 'Z'), total_events: Number(r.total_events), unique_users: Number(r.unique_users) }));
      channelRows[name] = channels.filter((r) => r.event_name === name)
        .map((r) => ({ group: r.channel, total_events: Number(r.total_events), unique_users: Number(r.unique_users) }));
    }
    return { byHour, channelRows };
  }

  async function refreshEventMetrics() {
    const names = eventNames();
    const hours = Math.max(1, Number(document.getElementById('hours').value) || 24);
    const to = Math.floor(Date.now() / 1000);
    const from = to - hours * 3600;
    const hourly = charts['events-hourly'];
    const users = charts['users-hourly'];
    const channels = charts.channels;
    let byHour = {};
    let channelRows = {};
    const layer = await readThroughQueryLayer(names, from, to);
    if (layer) {
      ({ byHour, channelRows } = layer);
    } else {
      for (const name of names) {
        const q = '/metrics?event_name=' + encodeURIComponent(name) + '&from=' + from + '&to=' + to;
        const [h, c] = await Promise.all([getJson(q + '&group_by=hour'), getJson(q + '&group_by=channel')]);
        if (h.status !== 200 || c.status !== 200) {
          note('events-note', 'Analytics unavailable — GET /metrics?event_name=… ' + unavailable('', h.status !== 200 ? h : c).trim(), true);
          return;
        }
        byHour[name] = h.body.data;
        channelRows[name] = c.body.data;
      }
    }
    const labels = [...new Set(Object.values(byHour).flatMap((rows) => rows.map((row) => row.group)))].sort();
    const dataset = (name, i, key) => ({
      label: name,
      data: labels.map((l) => (byHour[name].find((row) => row.group === l) || { [key]: 0 })[key]),
      borderColor: COLORS[i % COLORS.length],
      backgroundColor: COLORS[i % COLORS.length],
      tension: 0.2,
    });
    hourly.data.labels = labels.map((l) => hour(Date.parse(l)));
    hourly.data.datasets = names.map((name, i) => dataset(name, i, 'total_events'));
    hourly.update();
    users.data.labels = hourly.data.labels;
    users.data.datasets = names.map((name, i) => dataset(name, i, 'unique_users'));
    users.update();
    const channelNames = [...new Set(Object.values(channelRows).flatMap((rows) => rows.map((row) => row.group)))].sort();
    channels.data.labels = names;
    channels.data.datasets = channelNames.map((ch, i) => ({
      label: ch === '' ? '(none)' : ch,
      data: names.map((name) => (channelRows[name].find((row) => row.group === ch) || { total_events: 0 }).total_events),
      backgroundColor: COLORS[i % COLORS.length],
    }));
    channels.update();
    const total = names.reduce((sum, name) => sum + byHour[name].reduce((s, row) => s + row.total_events, 0), 0);
    note('events-note', total + ' events in the last ' + hours + ' h (ClickHouse, event_metrics_hourly' + (layer ? ', through the query layer' : '') + ')');
  }

  async function aggregation(aggregator, key) {
    return getJson('/processor/aggregation?aggregator=' + encodeURIComponent(aggregator) + '&key=' + encodeURIComponent(key));
  }

  async function refreshAggregates() {
    const system = await aggregation('system_5m_throughput', 'system');
    if (system.status !== 200) {
      note('aggregates-note', 'Seed 002 aggregates unavailable — GET /processor/aggregation ' + unavailable('', system).trim(), true);
      for (const id of ['agg-user-table', 'agg-item-table', 'agg-jurisdiction-table']) table(id, ['—'], [], 'processor API unavailable');
      return;
    }
    const windows = system.body.data.slice(-24);
    const chart = charts.throughput;
    chart.data.labels = windows.map((w) => clock(w.window_start));
    chart.data.datasets[0].data = windows.map((w) => w.count);
    chart.update();
    note('aggregates-note', windows.length + ' windows (5 min, advancing by 1 min)');

    const keyed = async (tableId, aggregator, prefix, inputId, columns) => {
      const id = document.getElementById(inputId).value.trim();
      if (!id) return table(tableId, ['—'], [], 'enter an id above');
      const result = await aggregation(aggregator, prefix + id);
      if (result.status !== 200) return table(tableId, ['—'], [], unavailable('GET /processor/aggregation', result));
      table(tableId, ['window', ...columns], result.body.data.slice(-12).map((w) => [new Date(w.window_start).toISOString().slice(0, 16).replace('T', ' '), ...columns.map((c) => w[c] ?? '')]), 'no windows for ' + prefix + id);
    };
    await keyed('agg-user-table', 'user_hourly_attempts', 'user:', 'agg-user', ['count', 'accuracy', 'mean_response_time_ms']);
    await keyed('agg-item-table', 'item_hourly_performance', 'item:', 'agg-item', ['count', 'accuracy', 'mean_response_time_ms']);
    await keyed('agg-jurisdiction-table', 'jurisdiction_daily_stats', 'jurisdiction:', 'agg-jurisdiction', ['count', 'attempts', 'accuracy', 'unique_users']);
  }

  // ---- loop -------------------------------------------------------------------------------
  async function refreshStatus() {
    const ready = await getJson('/ready').catch(() => ({ status: 0, body: null }));
    const badge = document.getElementById('status');
    badge.textContent = ready.status === 200 ? 'ready' : ready.status === 0 ? 'unreachable' : 'not ready' + (ready.body && ready.body.error ? ': ' + ready.body.error.replace(/^not ready: /, '') : '');
    badge.className = 'badge ' + (ready.status === 200 ? 'ok' : 'bad');
  }

  async function safely(name, fn) {
    try {
      await fn();
    } catch (error) {
      state.errors.push(name + ': ' + error.message);
      if (state.errors.length > 20) state.errors.shift();
    }
  }

  async function tick() {
    await Promise.all([safely('pipeline', refreshPipeline), safely('status', refreshStatus), safely('event metrics', refreshEventMetrics), safely('aggregates', refreshAggregates)]);
    state.refreshes++;
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.refreshes = String(state.refreshes);
    window.setTimeout(tick, REFRESH_MS);
  }

  document.getElementById('analytics-form').addEventListener('submit', (event) => {
    event.preventDefault();
    safely('event metrics', refreshEventMetrics);
    safely('aggregates', refreshAggregates);
  });

  tick();
})();
