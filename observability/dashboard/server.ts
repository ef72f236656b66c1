import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { serveMetrics } from '../../runtime/health.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../../runtime/logger.js';
import { dashboardSql, lastMinutes, runDashboardQuery, validMinutes, validSku } from './queries.js';

const publicDir = fileURLToPath(new URL('./public/', import.meta.url));
const require = createRequire(import.meta.url);

/** The page's files, read once: the server never maps a request path onto the file system. */
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: publicDir + 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: publicDir + 'app.js', type: 'text/javascript; charset=utf-8' },
  '/sku.html': { file: publicDir + 'sku.html', type: 'text/html; charset=utf-8' },
  '/sku.js': { file: publicDir + 'sku.js', type: 'text/javascript; charset=utf-8' },
  '/live.js': { file: publicDir + 'live.js', type: 'text/javascript; charset=utf-8' },
  '/charts.js': { file: publicDir + 'charts.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: publicDir + 'style.css', type: 'text/css; charset=utf-8' },
  // the chart library, served from the installed package: no CDN, works offline
  '/vendor/uPlot.esm.js': {
    file: require.resolve('uplot/dist/uPlot.esm.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/vendor/uPlot.min.css': {
    file: require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** "Now" in the tiles and the processor table means the last minute of raw batch rows. */
const CURRENT_WINDOW_SECONDS = 60;
const STOCK_ALERTS_SHOWN = 50;
const AT_RISK_SHOWN = 50;
const SKU_HISTORY_SHOWN = 300;

export class WritableUserError extends Error {}

/**
 * Refuses a ClickHouse user that could write: the dashboard is reachable by whoever can open
 * the page, so it must not hold credentials that can change data.
 */
export async function assertReadOnly(client: ClickHouseClient): Promise<void> {
  const rows = await runDashboardQuery<{ value: string }>(
    client,
    "SELECT value FROM system.settings WHERE name = 'readonly'",
  );
  const level = rows[0]?.value ?? '0';
  if (level === '0') {
    throw new WritableUserError(
      'the dashboard ClickHouse user can write (readonly = 0); give it a read-only profile',
    );
  }
}

export interface DashboardOptions {
  clickhouse: ClickHouseClient;
  refreshMs: number;
  logger: Logger;
}

export async function overview(client: ClickHouseClient, minutes: number): Promise<Record<string, unknown>> {
  const window = lastMinutes(minutes);
  const [
    current,
    throughput,
    latency,
    lag,
    lagHistory,
    activeAlerts,
    stockAlerts,
    deadLetters,
    orderFunnel,
    atRisk,
  ] = await Promise.all([
    runDashboardQuery(client, dashboardSql.current(CURRENT_WINDOW_SECONDS)),
    runDashboardQuery(client, dashboardSql.throughput(window)),
    runDashboardQuery(client, dashboardSql.latency(window)),
    runDashboardQuery(client, dashboardSql.lag()),
    runDashboardQuery(client, dashboardSql.lagHistory(window)),
    runDashboardQuery(client, dashboardSql.activeAlerts()),
    runDashboardQuery(client, dashboardSql.stockAlerts(STOCK_ALERTS_SHOWN)),
    runDashboardQuery(client, dashboardSql.deadLetters(window)),
    runDashboardQuery(client, dashboardSql.orderFunnel(window)),
    runDashboardQuery<{ sku: string }>(client, dashboardSql.atRisk(AT_RISK_SHOWN)),
  ]);
  const suggestions = await runDashboardQuery<{ sku: string }>(
    client,
    dashboardSql.suggestions(atRisk.map((r) => r.sku)),
  );
  const suggestionOf = new Map(suggestions.map((s) => [s.sku, s]));
  return {
    generatedAt: Date.now(),
    minutes,
    currentWindowSeconds: CURRENT_WINDOW_SECONDS,
    current,
    throughput,
    latency,
    lag,
    lagHistory,
    activeAlerts,
    stockAlerts,
    deadLetters,
    orderFunnel,
    atRisk: atRisk.map((r) => ({ ...r, suggestion: suggestionOf.get(r.sku) ?? null })),
  };
}

/** One SKU: its changelog (stock per warehouse, velocities), its alerts and its latest suggestion. */
export async function skuPage(client: ClickHouseClient, sku: string): Promise<Record<string, unknown>> {
  const [levels, alerts, suggestions] = await Promise.all([
    runDashboardQuery(client, dashboardSql.skuLevels(sku, SKU_HISTORY_SHOWN)),
    runDashboardQuery(client, dashboardSql.skuAlerts(sku, STOCK_ALERTS_SHOWN)),
    runDashboardQuery(client, dashboardSql.suggestions([sku])),
  ]);
  return { generatedAt: Date.now(), sku, levels, alerts, suggestion: suggestions[0] ?? null };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...SECURITY_HEADERS });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

export function createDashboardServer(options: DashboardOptions): Server {
  const files = new Map(
    Object.entries(STATIC_FILES).map(([path, { file, type }]) => [path, { type, body: readFileSync(file) }]),
  );
  let failing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'read-only dashboard\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const file = files.get(url.pathname);
    if (file) {
      send(res, 200, file.type, file.body);
      return;
    }
    if (url.pathname === '/metrics') {
      serveMetrics(res);
      return;
    }
    if (url.pathname === '/healthz') {
      send(res, 200, 'text/plain', 'ok\n');
      return;
    }
    if (url.pathname === '/api/config') {
      sendJson(res, 200, { refreshMs: options.refreshMs });
      return;
    }
    if (url.pathname === '/api/overview' || url.pathname === '/api/sku') {
      let load: () => Promise<Record<string, unknown>>;
      try {
        if (url.pathname === '/api/sku') {
          const sku = validSku(url.searchParams.get('sku'));
          load = () => skuPage(options.clickhouse, sku);
        } else {
          const minutes = validMinutes(url.searchParams.get('minutes') ?? '60');
          load = () => overview(options.clickhouse, minutes);
        }
      } catch (err) {
        sendJson(res, 400, { error: (err as Error).message });
        return;
      }
      try {
        const body = await load();
        if (failing) options.logger.info('ClickHouse answers the dashboard again');
        failing = false;
        sendJson(res, 200, body);
      } catch (err) {
        // one log line per outage, not one per refresh of every open page
        if (!failing) options.logger.warn({ err: (err as Error).message }, 'dashboard queries failing');
        failing = true;
        sendJson(res, 503, { error: 'metrics store unavailable', detail: (err as Error).message });
      }
      return;
    }
    send(res, 404, 'text/plain', 'not found\n');
  }

  return createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      options.logger.error({ err: err.message }, 'dashboard request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.end();
    });
  });
}
