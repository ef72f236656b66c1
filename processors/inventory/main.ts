import { processorMetrics } from '../../observability/processor-metrics.js';
import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { runService } from '../../runtime/service-main.js';
import { loadInventoryConfig } from './config.js';
import { InventoryService } from './service.js';

const config = configOrExit(loadInventoryConfig);
const logger = createLogger('inventory', config.LOG_LEVEL);
logger.info(
  { config: printableCommonConfig(config), group: config.INVENTORY_GROUP_ID },
  'starting stock processor',
);
await runService({
  name: 'stock processor',
  logger,
  create: () => new InventoryService(config, logger, processorMetrics(config, logger)),
  attempts: config.STARTUP_ATTEMPTS,
  retryDelayMs: config.STARTUP_RETRY_MS,
});
