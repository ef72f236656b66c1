import type { Server } from 'node:http';
import type { RedisOptions } from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import type { CommonConfig } from './config.js';
import { startHealthServer } from './health.js';
import { createKafka, createProducer, kafkaSecurity } from './kafka.js';
import type { Logger } from './logger.js';
import type { RedisClient } from './lua-scripts.js';
import type { ProcessorRunner } from './processor-runner.js';
import { createRedis } from './redis.js';

export interface ProcessorClients {
  kafka: Kafka;
  producer: Producer;
  redis: RedisClient;
}

/** What every processor connects to, from the common configuration. */
export function processorClients(
  config: CommonConfig,
  clientId: string,
  logger: Logger,
  redisOptions: RedisOptions = {},
): ProcessorClients {
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId,
    logger,
    security: kafkaSecurity(config),
  });
  const redis = createRedis(config, { maxRetriesPerRequest: 2, ...redisOptions });
  // ioredis reconnects by itself; the failing calls are what the runner retries and logs
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  return { kafka, producer: createProducer(kafka), redis };
}

/** The runner's /healthz and /readyz on HEALTH_PORT, when one is set. */
export async function healthFor(
  config: CommonConfig,
  runner: ProcessorRunner,
  logger: Logger,
): Promise<Server | null> {
  return config.HEALTH_PORT ? startHealthServer(config.HEALTH_PORT, () => runner.health(), logger) : null;
}
