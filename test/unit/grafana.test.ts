import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GRAFANA_DASHBOARD_PATH,
  grafanaDashboard,
  grafanaPanels,
} from '../../observability/dashboard/grafana.js';
import { dashboardSql, GRAFANA_TIME_RANGE } from '../../observability/dashboard/queries.js';

describe('Grafana dashboard JSON', () => {
  it('is what the generator makes from the current queries (run `npm run pipeline -- dashboard grafana`)', () => {
    const committed: unknown = JSON.parse(readFileSync(GRAFANA_DASHBOARD_PATH, 'utf8'));
    expect(committed).toEqual(grafanaDashboard());
  });

  it("wraps the dashboard page's own queries, with Grafana's time range", () => {
    const sql = grafanaPanels().map((p) => p.sql);
    for (const inner of [
      dashboardSql.throughput(GRAFANA_TIME_RANGE),
      dashboardSql.latency(GRAFANA_TIME_RANGE),
      dashboardSql.lagHistory(GRAFANA_TIME_RANGE),
      dashboardSql.lag(),
      dashboardSql.activeAlerts(),
    ]) {
      expect(sql.some((s) => s.includes(inner.trim()))).toBe(true);
    }
  });
});
