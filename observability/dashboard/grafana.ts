import { fileURLToPath } from 'node:url';
import { dashboardSql, GRAFANA_TIME_RANGE } from './queries.js';

export const GRAFANA_DASHBOARD_PATH = fileURLToPath(
  new URL('../../deploy/grafana/pipeline-dashboard.json', import.meta.url),
);

/**
 * The Grafana dashboard for users who run Grafana, generated from the same query builders as
 * the dashboard page so the two never disagree. It targets Altinity's ClickHouse data source
 * (vertamedia-clickhouse-datasource), which speaks HTTP and works with ClickHouse 18.16; the
 * official plugin needs a much newer server. Time series use that plugin's documented shape:
 * t in milliseconds, then groupArray((series name, value)).
 */

const DATASOURCE = { type: 'vertamedia-clickhouse-datasource', uid: '${DS_CLICKHOUSE}' };

interface Panel {
  title: string;
  type: 'timeseries' | 'table';
  sql: string;
  unit?: string;
}

function timeSeries(inner: string, series: string, value: string): string {
  return `SELECT t * 1000 AS t, groupArray((${series}, ${value})) AS groupArr
FROM (${inner.trim()})
GROUP BY t
ORDER BY t`;
}

const perTopic = "concat(processor, ' · ', topic)";

export function grafanaPanels(): Panel[] {
  const range = GRAFANA_TIME_RANGE;
  return [
    {
      title: 'Events per second, per processor and topic',
      type: 'timeseries',
      sql: timeSeries(dashboardSql.throughput(range), perTopic, 'events_per_second'),
      unit: 'ops',
    },
    {
      title: 'End-to-end latency p99 (ms)',
      type: 'timeseries',
      sql: timeSeries(dashboardSql.latency(range), perTopic, 'q[3]'),
      unit: 'ms',
    },
    {
      title: 'End-to-end latency p50 (ms)',
      type: 'timeseries',
      sql: timeSeries(dashboardSql.latency(range), perTopic, 'q[1]'),
      unit: 'ms',
    },
    {
      title: 'Dead letters per minute',
      type: 'timeseries',
      sql: timeSeries(dashboardSql.throughput(range), perTopic, 'dead_lettered'),
    },
    {
      title: 'Consumer lag (messages), per group',
      type: 'timeseries',
      sql: timeSeries(dashboardSql.lagHistory(range), 'consumer_group', 'lag_messages'),
    },
    {
      title: 'Orders per minute reaching each state',
      type: 'timeseries',
      sql: timeSeries(dashboardSql.orderFunnel(range), 'to_state', 'orders'),
    },
    { title: 'Processors, last minute', type: 'table', sql: dashboardSql.current(60).trim() },
    { title: 'Dead letters by input and reason', type: 'table', sql: dashboardSql.deadLetters(range).trim() },
    { title: 'Consumer lag now', type: 'table', sql: dashboardSql.lag().trim() },
    { title: 'Active alerts', type: 'table', sql: dashboardSql.activeAlerts().trim() },
    { title: 'Stock alerts', type: 'table', sql: dashboardSql.stockAlerts(50).trim() },
  ];
}

export function grafanaDashboard(): Record<string, unknown> {
  const panels = grafanaPanels().map((p, i) => ({
    id: i + 1,
    title: p.title,
    type: p.type,
    datasource: DATASOURCE,
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: p.unit ? { unit: p.unit } : {}, overrides: [] },
    options: {},
    targets: [
      {
        refId: 'A',
        datasource: DATASOURCE,
        format: p.type === 'table' ? 'table' : 'time_series',
        query: p.sql,
        rawQuery: true,
      },
    ],
  }));
  return {
    __inputs: [
      {
        name: 'DS_CLICKHOUSE',
        label: 'ClickHouse (read-only user dashboard_reader)',
        type: 'datasource',
        pluginId: 'vertamedia-clickhouse-datasource',
        pluginName: 'Altinity plugin for ClickHouse',
      },
    ],
    title: 'E-commerce event pipeline',
    uid: 'ecom-pipeline',
    tags: ['ecom-pipeline'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    panels,
  };
}

export function grafanaDashboardJson(): string {
  return `${JSON.stringify(grafanaDashboard(), null, 2)}\n`;
}
