import { resizeCharts, timeChart } from './charts.js';
import { keepLive } from './live.js';

const $ = (id) => document.getElementById(id);
const num = (v) => (v === null || v === undefined ? null : Number(v));

function fmt(v, digits = 0) {
  const n = num(v);
  if (n === null || Number.isNaN(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function fmtMs(v) {
  const n = num(v);
  if (n === null || Number.isNaN(n)) return '–';
  return n >= 10_000 ? `${fmt(n / 1000, 1)} s` : `${fmt(n)} ms`;
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - Number(ms)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fillTable(id, rows, columns, emptyText) {
  const body = $(id).querySelector('tbody');
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(tr, emptyText, 'empty');
    td.colSpan = columns.length;
    body.appendChild(tr);
    return;
  }
  for (const r of rows) {
    const tr = document.createElement('tr');
    for (const [get, className] of columns) {
      const value = get(r);
      if (value instanceof Node) {
        const td = cell(tr, '', className);
        td.appendChild(value);
      } else cell(tr, value, className);
    }
    body.appendChild(tr);
  }
}

const ALERTS_LISTED = 15;

/** A link to the SKU's page. */
function skuLink(sku) {
  const a = document.createElement('a');
  a.href = `/sku.html?sku=${encodeURIComponent(sku)}`;
  a.textContent = sku;
  return a;
}

/** "in 5h", "in 2d", or "passed" for a time (ISO) already behind. */
function until(iso) {
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (Number.isNaN(s)) return '?';
  if (s <= 0) return 'passed';
  if (s < 3600) return `in ${Math.round(s / 60)}m`;
  if (s < 172_800) return `in ${Math.round(s / 3600)}h`;
  return `in ${Math.round(s / 86_400)}d`;
}

function note(list, text, className = 'empty') {
  const li = document.createElement('li');
  li.className = className;
  li.textContent = text;
  list.appendChild(li);
}

/** The most pressing alerts one by one; the rest as counts per kind, so the page stays readable. */
function fillAlerts(id, alerts, emptyText, render, kindOf) {
  const list = $(id);
  list.replaceChildren();
  if (alerts.length === 0) {
    note(list, emptyText);
    return;
  }
  if (alerts.length > ALERTS_LISTED) {
    const counts = new Map();
    for (const a of alerts) counts.set(kindOf(a), (counts.get(kindOf(a)) ?? 0) + 1);
    note(list, [...counts].map(([k, n]) => `${k} × ${n}`).join(' · '), 'summary');
  }
  for (const a of alerts.slice(0, ALERTS_LISTED)) {
    const li = document.createElement('li');
    const { severity, title, message, at } = render(a);
    li.dataset.severity = severity;
    const when = document.createElement('span');
    when.className = 'when';
    when.textContent = ago(at);
    const strong = document.createElement('strong');
    strong.textContent = title;
    li.append(when, strong, ` ${message}`);
    list.appendChild(li);
  }
  if (alerts.length > ALERTS_LISTED) note(list, `and ${alerts.length - ALERTS_LISTED} more`);
}

/** Rows of [t, key, value] into chart series, one per key. */
function seriesBy(rows, key, value, suffix = '', dash) {
  const byKey = new Map();
  for (const r of rows) {
    const name = key(r) + suffix;
    if (!byKey.has(name)) byKey.set(name, { name, dash, points: [] });
    byKey.get(name).points.push([Number(r.t), value(r)]);
  }
  return [...byKey.values()];
}

const label = (r) => `${r.processor} · ${r.topic}`;
const QUANTILES = ['p50', 'p95', 'p99'];
/** The funnel's states in the order an order goes through them; the rest are ways out. */
const FUNNEL = ['PLACED', 'RESERVED', 'PAID', 'SHIPPED', 'DELIVERED', 'REJECTED', 'CANCELLED', 'EXPIRED'];

/** The processor filter offers every processor the data names, keeping the reader's choice. */
function fillProcessorFilter(data) {
  const select = $('processor-filter');
  const names = [...new Set([...data.current, ...data.throughput].map((r) => r.processor))].sort();
  const have = [...select.options].map((o) => o.value).filter(Boolean);
  if (names.join() === have.join()) return;
  const chosen = select.value;
  select.replaceChildren(new Option('all', ''), ...names.map((n) => new Option(n, n)));
  select.value = names.includes(chosen) ? chosen : '';
}

function fillFunnelTotals(rows) {
  const totals = new Map(FUNNEL.map((s) => [s, 0]));
  for (const r of rows) totals.set(r.to_state, (totals.get(r.to_state) ?? 0) + Number(r.orders));
  const placed = totals.get('PLACED') ?? 0;
  const box = $('funnel-totals');
  box.replaceChildren();
  for (const [state, n] of totals) {
    const span = document.createElement('span');
    span.dataset.state = state;
    const strong = document.createElement('strong');
    strong.textContent = fmt(n);
    const share = placed > 0 && state !== 'PLACED' ? ` (${fmt((100 * n) / placed)} %)` : '';
    span.append(`${state.toLowerCase()} `, strong, share);
    box.appendChild(span);
  }
}

function render(data) {
  const toT = Math.floor(data.generatedAt / 1000);
  const range = { fromT: toT - data.minutes * 60, toT };
  fillProcessorFilter(data);
  const only = $('processor-filter').value;
  const mine = (rows) => (only ? rows.filter((r) => r.processor === only) : rows);
  const current = mine(data.current);
  const throughput = mine(data.throughput);
  const latency = mine(data.latency);

  const rate = current.reduce((n, r) => n + Number(r.events_per_second), 0);
  const p99 = Math.max(0, ...current.map((r) => Number(r.q?.[2] ?? 0)));
  const dlq = throughput.reduce((n, r) => n + Number(r.dead_lettered), 0);
  const maxLag = data.lag.reduce((m, r) => Math.max(m, Number(r.lag_messages)), 0);
  const maxLagSeconds = data.lag.reduce((m, r) => Math.max(m, Number(r.lag_seconds)), 0);
  $('tile-rate').textContent = fmt(rate, rate < 10 ? 1 : 0);
  $('tile-p99').textContent = current.length ? fmtMs(p99) : '–';
  $('tile-dlq').textContent = fmt(dlq);
  $('tile-lag').textContent = data.lag.length ? `${fmt(maxLag)} msg · ${fmt(maxLagSeconds, 1)} s` : '–';
  $('tile-alerts').textContent = fmt(data.activeAlerts.length);

  fillTable(
    'processors',
    current,
    [
      [(r) => r.processor],
      [(r) => r.topic],
      [(r) => fmt(r.events_per_second, 1), 'num'],
      [(r) => fmt(r.q?.[0]), 'num'],
      [(r) => fmt(r.q?.[1]), 'num'],
      [(r) => fmt(r.q?.[2]), 'num'],
      [(r) => fmt(r.applied_events), 'num'],
      [(r) => fmt(r.duplicate_events), 'num'],
      [(r) => fmt(r.dead_letters), 'num'],
      [(r) => fmt(r.retried), 'num'],
    ],
    'no batches in the last minute',
  );

  timeChart(
    $('chart-throughput'),
    seriesBy(throughput, label, (r) => Number(r.events_per_second)),
    range,
  );
  const q = Number($('quantile').value);
  timeChart(
    $('chart-latency'),
    seriesBy(latency, label, (r) => Number(r.q[q]), ` ${QUANTILES[q]}`),
    range,
  );
  timeChart(
    $('chart-errors'),
    [
      ...seriesBy(throughput, label, (r) => Number(r.dead_lettered), ' dead letters'),
      ...seriesBy(throughput, label, (r) => Number(r.retries), ' retries', '4 3'),
    ],
    range,
  );
  timeChart(
    $('chart-lag'),
    seriesBy(
      data.lagHistory,
      (r) => r.consumer_group,
      (r) => Number(r.lag_messages),
    ),
    range,
  );
  const funnel = [...data.orderFunnel].sort(
    (a, b) => FUNNEL.indexOf(a.to_state) - FUNNEL.indexOf(b.to_state),
  );
  timeChart(
    $('chart-funnel'),
    seriesBy(
      funnel,
      (r) => r.to_state.toLowerCase(),
      (r) => Number(r.orders),
    ),
    range,
  );
  fillFunnelTotals(data.orderFunnel);

  fillTable(
    'dlq',
    only ? data.deadLetters.filter((r) => r.processor === only) : data.deadLetters,
    [
      [(r) => r.input_topic],
      [(r) => r.reason],
      [(r) => r.processor],
      [(r) => fmt(r.dead_letters), 'num'],
      [(r) => ago(r.newest_ms)],
      [(r) => `${r.example_key ? `key ${r.example_key}: ` : ''}${r.example}`, 'example'],
    ],
    'no dead letters in this range',
  );

  fillTable(
    'lag',
    data.lag,
    [
      [(r) => r.consumer_group],
      [(r) => r.topic],
      [(r) => fmt(r.lag_messages), 'num'],
      [(r) => `${Number(r.lag_seconds_at_least) ? '≥ ' : ''}${fmt(r.lag_seconds, 1)}`, 'num'],
      [
        (r) => {
          const worst = ['STOP', 'STALL', 'ERR', 'REWIND', 'WARN', 'OK'].find((s) => r.statuses.includes(s));
          const badge = document.createElement('span');
          badge.className = 'badge';
          badge.dataset.status = worst ?? 'OK';
          badge.textContent = worst ?? 'OK';
          return badge;
        },
      ],
    ],
    'no consumer groups sampled in the last 10 minutes',
  );

  fillTable(
    'at-risk',
    data.atRisk ?? [],
    [
      [(r) => skuLink(r.sku)],
      [(r) => `${r.predicted_at.replace('T', ' ').slice(0, 16)} (${until(r.predicted_at)})`],
      [(r) => fmt(r.available), 'num'],
      [(r) => fmt(r.velocity_per_hour, 2), 'num'],
      [(r) => fmt(r.cover_hours, 1), 'num'],
      [(r) => fmt(r.lead_time_hours), 'num'],
      [(r) => (r.suggestion ? fmt(r.suggestion.reorder_point) : '–'), 'num'],
      [(r) => (r.suggestion ? fmt(r.suggestion.suggested_quantity) : '–'), 'num'],
    ],
    'no stock-out predicted',
  );

  fillAlerts(
    'active-alerts',
    data.activeAlerts,
    'no active alerts',
    (a) => ({
      severity: a.severity,
      title: `${a.source} ${a.kind} · ${a.subject_key}`,
      message: a.message,
      at: a.raised_ms,
    }),
    (a) => `${a.source} ${a.kind}`,
  );
  fillAlerts(
    'stock-alerts',
    data.stockAlerts,
    'no stock alerts in the last day',
    (a) => ({
      severity: a.alert_severity,
      title: `${a.alert_kind} · ${a.sku}`,
      message: a.alert_message,
      at: a.at_ms,
    }),
    (a) => a.alert_kind,
  );
}

let last = null;

const refresh = await keepLive(
  () => `/api/overview?minutes=${encodeURIComponent($('range').value)}`,
  (body) => {
    last = body;
    render(body);
  },
);
$('range').addEventListener('change', refresh);
// a filter or quantile change redraws what the page has; the next refresh brings new data
for (const id of ['processor-filter', 'quantile'])
  $(id).addEventListener('change', () => last && render(last));
window.addEventListener('resize', () => resizeCharts(document.querySelectorAll('figure.chart')));
