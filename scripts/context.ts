import type { Kafka } from 'kafkajs';
import {
  configOrExit,
  loadCommonConfig,
  printableCommonConfig,
  type CommonConfig,
} from '../runtime/config.js';
import { loadInventoryConfig } from '../processors/inventory/config.js';
import { loadLogisticsConfig } from '../processors/logistics/config.js';
import { loadOrdersConfig } from '../processors/orders/config.js';
import { createKafka, kafkaSecurity } from '../runtime/kafka.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { AvroCodec } from '../schemas/codec.js';

export interface CliContext {
  config: CommonConfig;
  logger: Logger;
  kafka: Kafka;
  codec: AvroCodec;
}

/** Config is validated before anything connects; a bad variable ends the command with all problems listed. */
export function createContext(component: string): CliContext {
  const config = configOrExit(loadCommonConfig);
  const logger = createLogger(component, config.LOG_LEVEL, 2);
  logger.debug({ config: printableCommonConfig(config) }, 'configuration');
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID,
    logger,
    security: kafkaSecurity(config),
  });
  const codec = AvroCodec.fromConfig(config, config.TOPIC_PREFIX);
  return { config, logger, kafka, codec };
}

/**
 * How long the processors reading an input topic remember an event id (read from the same
 * variables the processors read): a redrive of something older could apply it twice.
 * undefined: no limit (the catalogue is last-writer-wins by version).
 */
export function dedupeWindowMs(input: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const stock = configOrExit(() => loadInventoryConfig(env));
  switch (input) {
    case 'stock':
      return stock.INVENTORY_EVENT_ID_TTL_SECONDS * 1000;
    case 'orders':
      return (
        Math.min(
          stock.INVENTORY_FINAL_ORDER_TTL_SECONDS,
          configOrExit(() => loadOrdersConfig(env)).ORDERS_FINAL_TTL_SECONDS,
        ) * 1000
      );
    case 'carrier':
      return configOrExit(() => loadLogisticsConfig(env)).LOGISTICS_FINAL_TTL_SECONDS * 1000;
    default:
      return undefined;
  }
}
