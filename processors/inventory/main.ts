import { printableCommonConfig } from '../../runtime/config.js';
import { ConfigError } from '../../runtime/env.js';
import { createLogger } from '../../runtime/logger.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { loadInventoryConfig, type InventoryConfig } from './config.js';
import { InventoryService } from './service.js';

let config: InventoryConfig;
try {
  config = loadInventoryConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
const logger = createLogger('inventory', config.LOG_LEVEL);
logger.info(
  { config: printableCommonConfig(config), group: config.INVENTORY_GROUP_ID },
  'starting stock processor',
);
const service = new InventoryService(config, logger);
onShutdown(logger, () => service.stop());
try {
  await service.start();
} catch (err) {
  logger.fatal({ err }, 'stock processor failed to start');
  await service.stop().catch(() => undefined);
  process.exit(1);
}
