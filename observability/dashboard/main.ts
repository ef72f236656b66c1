import { once } from 'node:events';
import { configOrExit } from '../../runtime/config.js';
import { redact } from '../../runtime/env.js';
import { createLogger } from '../../runtime/logger.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { createClickHouse } from '../clickhouse.js';
import { dashboardEnv, loadDashboardConfig } from './config.js';
import { assertReadOnly, createDashboardServer, WritableUserError } from './server.js';

const config = configOrExit(loadDashboardConfig);
const logger = createLogger('dashboard', config.LOG_LEVEL);
const clickhouse = createClickHouse({
  url: config.CLICKHOUSE_URL,
  username: config.DASHBOARD_CLICKHOUSE_USER,
  password: config.DASHBOARD_CLICKHOUSE_PASSWORD,
  caFile: config.CLICKHOUSE_CA_FILE,
});
// a writable user is fatal at once; an unreachable ClickHouse gets half a minute to come up
for (let attempt = 1; ; attempt++) {
  try {
    await assertReadOnly(clickhouse);
    break;
  } catch (err) {
    if (err instanceof WritableUserError || attempt >= 30) {
      logger.fatal({ err: (err as Error).message }, 'dashboard not started');
      process.exit(2);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

const server = createDashboardServer({ clickhouse, refreshMs: config.DASHBOARD_REFRESH_MS, logger });
server.listen(config.DASHBOARD_PORT, config.DASHBOARD_HOST);
await once(server, 'listening');
logger.info(
  { config: redact(dashboardEnv, config), url: `http://${config.DASHBOARD_HOST}:${config.DASHBOARD_PORT}/` },
  'dashboard listening',
);

onShutdown(logger, async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await clickhouse.close();
});
