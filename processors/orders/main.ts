import { processorMetrics } from '../../observability/processor-metrics.js';
import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { runService } from '../../runtime/service-main.js';
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
await runService({
  name: 'order processor',
  logger,
  create: () => new OrdersService(config, logger, processorMetrics(config, logger)),
  attempts: config.STARTUP_ATTEMPTS,
  retryDelayMs: config.STARTUP_RETRY_MS,
});
