// The page's charts and request log: per key, requests, tokens and spend over the last 7 days
// (uPlot, bundled into the page's one script) and the recent requests; above the key list,
// all keys over 7 days and the top keys. Data is rendered as text nodes only.

import uPlot from 'uplot';
import { api } from './api';
import { els, h } from './dom';
import { DASH, fmtDate, fmtNum, fmtUsd } from './format';
import type { Analytics, AnalyticsPoint, LogEntry, LogPage } from './types';
import { handle } from './views';

const CHART_COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];

/** A chart titled `title` with one line per series label; `pick(point, i)` reads series i. */
function chart(title: string, series: string[], points: AnalyticsPoint[], pick: (p: AnalyticsPoint, i: number) => number): HTMLDivElement {
  const box = h('div', { class: 'chart', 'data-chart': title }, h('div', { class: 'chart-title' }, title));
  const xs = points.map((p) => Date.parse(p.t) / 1000);
  const data: uPlot.AlignedData = [xs, ...series.map((_, i) => points.map((p) => pick(p, i)))];
  const width = Math.max(240, Math.min(420, (document.documentElement.clientWidth - 120) / 3));
  // uPlot draws into a canvas and builds its legend with DOM nodes (no HTML strings).
  new uPlot({
    width,
    height: 160,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    series: [{}, ...series.map((label, i) => ({ label, stroke: CHART_COLORS[i % CHART_COLORS.length], width: 1.5 }))],
    axes: [{ size: 30 }, { size: 50 }],
  }, data, box);
  return box;
}

function logRow(e: LogEntry): HTMLTableRowElement {
  return h('tr', null,
    h('td', null, fmtDate(e.at, DASH)),
    h('td', null, String(e.status)),
    h('td', null, e.outcome),
    h('td', null, e.method + ' ' + e.path),
    h('td', null, e.latency_ms && e.latency_ms.total !== null ? Math.round(e.latency_ms.total) + ' ms' : DASH),
    h('td', null, e.input_tokens === null ? DASH : fmtNum(e.input_tokens) + ' / ' + fmtNum(e.output_tokens || 0)),
    h('td', null, e.cost_usd === null ? DASH : fmtUsd(e.cost_usd)));
}

/** A key's charts and recent requests, into `box` (inside its usage panel). */
export async function renderActivity(box: HTMLElement, id: string): Promise<void> {
  try {
    const base = '/keys/' + encodeURIComponent(id);
    const [a, logs] = await Promise.all([
      api<Analytics>('GET', base + '/analytics?granularity=hour'),
      api<LogPage>('GET', base + '/logs?limit=10'),
    ]);
    const points = a.series;
    const charts = points.every((p) => p.requests === 0)
      ? [h('div', { class: 'sub' }, 'No requests in the last 7 days.')]
      : [
          chart('Requests', ['requests', 'errors'], points, (p, i) => (i === 0 ? p.requests : p.errors)),
          chart('Tokens', ['input', 'output'], points, (p, i) => (i === 0 ? p.input_tokens : p.output_tokens)),
          chart('Spend (USD)', ['cost'], points, (p) => p.cost_usd),
        ];
    const rows = logs.entries.map(logRow);
    box.replaceChildren(
      h('strong', null, 'Activity (7 days, hourly)'),
      h('div', { class: 'charts' }, charts),
      h('strong', null, 'Recent requests'),
      rows.length
        ? h('table', { class: 'log-table' },
            h('thead', null, h('tr', null, ['At', 'Status', 'Outcome', 'Request', 'Latency', 'Tokens in / out', 'Cost'].map((t) => h('th', null, t)))),
            h('tbody', null, rows))
        : h('div', { class: 'sub' }, 'No requests logged yet.'));
  } catch (err) {
    box.replaceChildren(h('div', { class: 'sub' }, 'Activity unavailable.'));
    handle(err);
  }
}

/** The overview above the key list: all keys over 7 days and the top keys by requests. */
export async function renderOverview(): Promise<void> {
  const box = els.overview;
  try {
    const a = await api<Analytics>('GET', '/analytics?granularity=hour&top=5&by=requests');
    const top = a.top.map((t) => h('li', null, h('code', null, t.key_id), ' ' + fmtNum(t.requests) + ' requests, ' + fmtUsd(t.cost_usd)));
    box.replaceChildren(
      h('div', { class: 'row usage-head' }, h('strong', null, 'All keys, last 7 days'),
        h('button', { type: 'button', class: 'small', onclick: () => renderOverview() }, 'Refresh')),
      h('div', { class: 'charts' },
        a.series.some((p) => p.requests > 0)
          ? [chart('Requests (all keys)', ['requests', 'errors'], a.series, (p, i) => (i === 0 ? p.requests : p.errors)),
             chart('Spend (all keys, USD)', ['cost'], a.series, (p) => p.cost_usd)]
          : h('div', { class: 'sub' }, 'No requests in the last 7 days.'),
        h('div', { class: 'top-keys' }, h('strong', null, 'Top keys by requests'), top.length ? h('ol', null, top) : h('div', { class: 'sub' }, DASH))));
  } catch (err) {
    box.replaceChildren(h('div', { class: 'sub' }, 'Analytics unavailable.'));
    handle(err);
  }
}
