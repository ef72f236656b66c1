// One SKU: stock per warehouse, velocity over time, recent history and alerts, from what the
// pipeline recorded in ClickHouse (the stock-levels changelog, alerts, suggestions).
import { resizeCharts, timeChart } from './charts.js';
import { keepLive } from './live.js';

const $ = (id) => document.getElementById(id);
const sku = new URLSearchParams(location.search).get('sku') ?? '';

function fmt(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return '–';
  return Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function row(body, values) {
  const tr = document.createElement('tr');
  for (const [text, className] of values) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
  }
  body.appendChild(tr);
}

function emptyRow(body, text, span) {
  const tr = document.createElement('tr');
  const td = document.createElement('td');
  td.textContent = text;
  td.className = 'empty';
  td.colSpan = span;
  tr.appendChild(td);
  body.appendChild(tr);
}

function render(data) {
  $('sku-name').textContent = data.sku;
  document.title = `${data.sku} · Pipeline dashboard`;
  const levels = data.levels ?? [];
  const latest = levels[0];
  $('tile-on').textContent = fmt(latest?.on_hand);
  $('tile-reserved').textContent = fmt(latest?.reserved);
  $('tile-available').textContent = fmt(latest?.available);
  $('tile-velocity').textContent = latest
    ? fmt(Math.max(Number(latest.reserved_per_hour), Number(latest.sold_per_hour)), 2)
    : '–';
  const s = data.suggestion;
  $('tile-suggestion').textContent = s
    ? `${fmt(s.suggested_quantity)} · point ${fmt(s.reorder_point)}${Number(s.reorder_now) ? ' · reorder now' : ''}`
    : '–';

  const warehouses = $('warehouses').querySelector('tbody');
  warehouses.replaceChildren();
  const parts = latest ? JSON.parse(latest.warehouses_json || '[]') : [];
  if (parts.length === 0) emptyRow(warehouses, 'no stock recorded for this SKU', 4);
  for (const w of parts)
    row(warehouses, [
      [w.warehouseId],
      [fmt(w.onHand), 'num'],
      [fmt(w.reserved), 'num'],
      [fmt(w.available), 'num'],
    ]);

  const history = $('history').querySelector('tbody');
  history.replaceChildren();
  if (levels.length === 0) emptyRow(history, 'no changelog records for this SKU', 8);
  for (const l of levels.slice(0, 30))
    row(history, [
      [fmt(l.version), 'num'],
      [new Date(Number(l.at_ms)).toLocaleString()],
      [fmt(l.on_hand), 'num'],
      [fmt(l.reserved), 'num'],
      [fmt(l.available), 'num'],
      [fmt(l.reserved_per_hour, 2), 'num'],
      [fmt(l.sold_per_hour, 2), 'num'],
      [l.source_event_id],
    ]);

  const alerts = $('sku-alerts');
  alerts.replaceChildren();
  if ((data.alerts ?? []).length === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'no alerts for this SKU in the last week';
    alerts.appendChild(li);
  }
  for (const a of data.alerts ?? []) {
    const li = document.createElement('li');
    li.dataset.severity = a.alert_severity;
    li.dataset.kind = a.alert_kind;
    const title = document.createElement('strong');
    title.textContent = `${a.alert_kind} · ${new Date(Number(a.at_ms)).toLocaleString()}`;
    const message = document.createElement('span');
    message.textContent = a.alert_message;
    li.append(title, document.createElement('br'), message);
    alerts.appendChild(li);
  }

  // oldest first for the charts; each record is a point at the time it was published
  const points = [...levels].reverse().map((l) => ({ t: Math.floor(Number(l.at_ms) / 1000), l }));
  const range = points.length
    ? { fromT: points[0].t, toT: Math.max(points[points.length - 1].t, points[0].t + 60) }
    : { fromT: Math.floor(Date.now() / 1000) - 3600, toT: Math.floor(Date.now() / 1000) };
  const series = (name, get) => ({ name, points: points.map(({ t, l }) => [t, Number(get(l))]) });
  timeChart(
    $('chart-velocity'),
    [series('reserved / h', (l) => l.reserved_per_hour), series('sold / h', (l) => l.sold_per_hour)],
    range,
  );
  timeChart(
    $('chart-stock'),
    [
      series('on hand', (l) => l.on_hand),
      series('reserved', (l) => l.reserved),
      series('available', (l) => l.available),
    ],
    range,
  );
}

window.addEventListener('resize', () => resizeCharts(document.querySelectorAll('figure.chart')));
await keepLive(() => `/api/sku?sku=${encodeURIComponent(sku)}`, render);
