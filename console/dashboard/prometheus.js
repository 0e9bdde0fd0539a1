/* Prometheus text exposition format → samples, in the browser (the dashboard reads GET /metrics). */
/* global window */
(function (root) {
  'use strict';
  const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

  function unescape(value) {
    return value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }

  /** [{name, labels: {..}, value}] for every sample line. */
  function parse(text) {
    const samples = [];
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const brace = line.indexOf('{');
      const space = brace >= 0 ? line.indexOf(' ', line.lastIndexOf('}')) : line.indexOf(' ');
      if (space < 0) continue;
      const name = brace >= 0 ? line.slice(0, brace) : line.slice(0, space);
      const labels = {};
      if (brace >= 0) {
        const body = line.slice(brace + 1, line.lastIndexOf('}'));
        for (const match of body.matchAll(LABEL)) labels[match[1]] = unescape(match[2]);
      }
      const value = Number(line.slice(space + 1).trim().split(' ')[0]);
      samples.push({ name, labels, value });
    }
    return samples;
  }

  /** Sum of a metric's samples whose labels match the filter (a value or a predicate per label). */
  function sum(samples, name, filter) {
    let total = 0;
    let found = false;
    for (const s of samples) {
      if (s.name !== name || !matches(s.labels, filter)) continue;
      total += s.value;
      found = true;
    }
    return found ? total : null;
  }

  function matches(labels, filter) {
    if (!filter) return true;
    for (const [key, want] of Object.entries(filter)) {
      const have = labels[key];
      if (typeof want === 'function' ? !want(have) : have !== want) return false;
    }
    return true;
  }

  /** Sums by one label: {labelValue: total}. */
  function sumBy(samples, name, label, filter) {
    const out = {};
    for (const s of samples) {
      if (s.name !== name || !matches(s.labels, filter)) continue;
      const key = s.labels[label] ?? '';
      out[key] = (out[key] ?? 0) + s.value;
    }
    return out;
  }

  /** Cumulative histogram buckets summed over label sets: [[le, count]] sorted by le. */
  function buckets(samples, name) {
    const byLe = sumBy(samples, name + '_bucket', 'le');
    return Object.entries(byLe)
      .map(([le, count]) => [le === '+Inf' ? Infinity : Number(le), count])
      .sort((a, b) => a[0] - b[0]);
  }

  /** The q-quantile upper bound from bucket deltas between two scrapes. */
  function quantile(q, now, before) {
    const prev = new Map((before ?? []).map(([le, c]) => [le, c]));
    const deltas = now.map(([le, c]) => [le, c - (prev.get(le) ?? 0)]);
    const total = deltas.length ? deltas[deltas.length - 1][1] : 0;
    if (total <= 0) return null;
    for (const [le, c] of deltas) if (c >= q * total) return le;
    return null;
  }

  root.StreamlineProm = { parse, sum, sumBy, buckets, quantile };
})(window);
