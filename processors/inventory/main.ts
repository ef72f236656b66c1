import { processorMetrics } from '../../observability/processor-metrics.js';
import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { loadInventoryConfig } from './config.js';
import { InventoryService } from './service.js';

const config = configOrExit(loadInventoryConfig);
const logger = createLogger('inventory', config.LOG_LEVEL);
logger.info(
  { config: printableCommonConfig(config), group: config.INVENTORY_GROUP_ID },
  'starting stock processor',
);
const service = new InventoryService(config, logger, processorMetrics(config, logger));
onShutdown(logger, () => service.stop());
try {
  await service.start();
} catch (err) {
  logger.fatal({ err }, 'stock processor failed to start');
  await service.stop().catch(() => undefined);
  process.exit(1);
}
