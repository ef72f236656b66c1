import kafkajs, {
  type Kafka as KafkaClient,
  type LogEntry,
  type logCreator,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { readFileSync } from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { checkCommonConfig, type CommonConfig } from './config.js';
import { JavaCompatiblePartitioner } from './kafka-partitioner.js';
import { installFastRecordEncoder } from './kafkajs-record.js';
import type { Logger } from './logger.js';

// kafkajs is CommonJS: its classes and enums are only reachable through the default export
const { Kafka, logLevel } = kafkajs;

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs' own logging into pino so operators read one log format. */
function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log, namespace }: LogEntry) => {
      const { message, ...extra } = log;
      const name = levelNames[level] ?? 'info';
      logger[name]({ kafkajs: namespace, ...extra }, message);
    };
}

export interface KafkaSecurity {
  sasl?: SASLOptions;
  ssl?: KafkaConfig['ssl'];
}

/**
 * SASL and TLS settings from the configuration. A mechanism without both credentials is a
 * configuration error at start (checkCommonConfig), not an authentication failure later.
 */
export function kafkaSecurity(
  config: Pick<
    CommonConfig,
    'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD' | 'KAFKA_SSL' | 'KAFKA_SSL_CA_FILE'
  >,
): KafkaSecurity {
  checkCommonConfig(config);
  const security: KafkaSecurity = {};
  if (config.KAFKA_SASL_MECHANISM !== 'none') {
    const { KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config;
    security.sasl = { mechanism: config.KAFKA_SASL_MECHANISM, username, password } as SASLOptions;
  }
  if (config.KAFKA_SSL) {
    security.ssl = config.KAFKA_SSL_CA_FILE ? { ca: [readFileSync(config.KAFKA_SSL_CA_FILE, 'utf8')] } : true;
  }
  return security;
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  security?: KafkaSecurity;
}

let recordEncoderReported = false;

export function createKafka({ brokers, clientId, logger, security = {} }: KafkaClientOptions): KafkaClient {
  const encoder = installFastRecordEncoder();
  if (encoder !== 'installed' && !recordEncoderReported) {
    recordEncoderReported = true;
    logger.warn({ encoder }, "kafkajs' own record encoder in use: producing costs more CPU");
  }
  return new Kafka({
    clientId,
    brokers,
    ...security,
    // kafkajs' INFO level logs every group join; WARN keeps the log to notable events
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger.child({ lib: 'kafkajs' })),
    retry: { initialRetryTime: 200, retries: 8 },
    connectionTimeout: 5_000,
  });
}

/**
 * Producers always use the Java-compatible murmur2 partitioner, so a key lands on the same
 * partition whichever client (ours or an upstream Java service) produced it. They are
 * idempotent: a produce request retried after a lost acknowledgement (a broker failing over)
 * is written once, not twice (the broker de-duplicates by producer id and sequence).
 */
export function createProducer(kafka: KafkaClient, config: ProducerConfig = {}): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: JavaCompatiblePartitioner,
    idempotent: true,
    // what idempotence needs: one request in flight per broker, so sequences arrive in order
    maxInFlightRequests: 1,
    ...config,
  });
}
