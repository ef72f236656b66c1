import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { FanOutSink, LogSummarySink } from '../../runtime/metrics.js';
import { createClickHouse } from '../../observability/clickhouse.js';
import { ClickHouseMetricsSink } from '../../observability/clickhouse-sink.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { loadInventoryConfig } from './config.js';
import { InventoryService } from './service.js';

const config = configOrExit(loadInventoryConfig);
const logger = createLogger('inventory', config.LOG_LEVEL);
logger.info(
  { config: printableCommonConfig(config), group: config.INVENTORY_GROUP_ID },
  'starting stock processor',
);
const summary = new LogSummarySink(logger);
const metrics = config.METRICS_ENABLED
  ? new FanOutSink([
      summary,
      new ClickHouseMetricsSink(
        createClickHouse({
          url: config.CLICKHOUSE_URL,
          username: config.CLICKHOUSE_USER,
          password: config.CLICKHOUSE_PASSWORD,
        }),
        logger,
      ),
    ])
  : summary;
const service = new InventoryService(config, logger, metrics);
onShutdown(logger, () => service.stop());
try {
  await service.start();
} catch (err) {
  logger.fatal({ err }, 'stock processor failed to start');
  await service.stop().catch(() => undefined);
  process.exit(1);
}
