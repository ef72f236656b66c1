import { processorMetrics } from '../../observability/processor-metrics.js';
import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { onShutdown } from '../../runtime/shutdown.js';
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
const service = new LogisticsService(config, logger, processorMetrics(config, logger));
onShutdown(logger, () => service.stop());
try {
  await service.start();
} catch (err) {
  logger.fatal({ err }, 'logistics processor failed to start');
  await service.stop().catch(() => undefined);
  process.exit(1);
}
