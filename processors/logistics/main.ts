import { processorMetrics } from '../../observability/processor-metrics.js';
import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { runService } from '../../runtime/service-main.js';
import { loadLogisticsConfig } from './config.js';
import { LogisticsService } from './service.js';

const config = configOrExit(loadLogisticsConfig);
const logger = createLogger('logistics', config.LOG_LEVEL);
logger.info(
  {
    config: printableCommonConfig(config),
    group: config.LOGISTICS_GROUP_ID,
    silenceMs: config.LOGISTICS_SILENCE_MS,
    signed: Boolean(config.ORDER_SIGNING_SECRET),
  },
  'starting logistics processor',
);
await runService({
  name: 'logistics processor',
  logger,
  create: () => new LogisticsService(config, logger, processorMetrics(config, logger)),
  attempts: config.STARTUP_ATTEMPTS,
  retryDelayMs: config.STARTUP_RETRY_MS,
});
