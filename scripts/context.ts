import type { Kafka } from 'kafkajs';
import {
  configOrExit,
  loadCommonConfig,
  printableCommonConfig,
  type CommonConfig,
} from '../runtime/config.js';
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
  const logger = createLogger(component, config.LOG_LEVEL);
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
