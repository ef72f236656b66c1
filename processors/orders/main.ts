import { processorMetrics } from '../../observability/processor-metrics.js';
import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { loadOrdersConfig } from './config.js';
import { OrdersService } from './service.js';

const config = configOrExit(loadOrdersConfig);
const logger = createLogger('orders', config.LOG_LEVEL);
logger.info(
  {
    config: printableCommonConfig(config),
    group: config.ORDERS_GROUP_ID,
    paymentDeadlineMs: config.ORDERS_PAYMENT_DEADLINE_MS,
    signed: Boolean(config.ORDER_SIGNING_SECRET),
  },
  'starting order processor',
);
const service = new OrdersService(config, logger, processorMetrics(config, logger));
onShutdown(logger, () => service.stop());
try {
  await service.start();
} catch (err) {
  logger.fatal({ err }, 'order processor failed to start');
  await service.stop().catch(() => undefined);
  process.exit(1);
}
