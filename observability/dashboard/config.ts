import { readEnv, type EnvSpec, type EnvValues } from '../../runtime/env.js';
import { commonEnv } from '../../runtime/config.js';

export const dashboardEnv = {
  CLICKHOUSE_URL: commonEnv.CLICKHOUSE_URL,
  CLICKHOUSE_CA_FILE: commonEnv.CLICKHOUSE_CA_FILE,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  DASHBOARD_HOST: { kind: 'string', default: '127.0.0.1', doc: 'Address the dashboard listens on.' },
  DASHBOARD_PORT: { kind: 'int', default: 18080, min: 0, max: 65_535, doc: 'Port of the dashboard page.' },
  DASHBOARD_CLICKHOUSE_USER: {
    kind: 'string',
    default: 'dashboard_reader',
    doc: 'ClickHouse user the dashboard reads as; it must be read-only or the dashboard refuses to start.',
  },
  DASHBOARD_CLICKHOUSE_PASSWORD: {
    kind: 'string',
    default: 'reader-local-only',
    secret: true,
    doc: "Its password (the default matches the local stack's reader).",
  },
  DASHBOARD_REFRESH_MS: {
    kind: 'int',
    default: 5_000,
    min: 1_000,
    max: 300_000,
    doc: 'How often the page refreshes its data.',
  },
} as const satisfies Record<string, EnvSpec>;

export type DashboardConfig = EnvValues<typeof dashboardEnv>;

export function loadDashboardConfig(env: NodeJS.ProcessEnv = process.env): DashboardConfig {
  return readEnv(dashboardEnv, env);
}
