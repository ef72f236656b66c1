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
import type { Logger } from './logger.js';

// kafkajs is CommonJS: its classes and enums are only reachable through the default export
const { Kafka, logLevel } = kafkajs;

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// kafkajs warns once per idempotent producer whose in-client retries are bounded. Ours are on
// purpose: a send that gives up is retried by its caller (the runner, a sweeper) with the same
// deterministic ids, and a bounded send lets a stall be seen and a shutdown finish.
const EXPECTED_WARNINGS = new Set([
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
]);

// Broker answers kafkajs logs as errors although it retries them itself: a coordinator or a
// leader still being elected after a broker (re)start. What does not get better by retrying
// surfaces from our own code, with what it means; these are debug noise on a terminal.
const RETRIED_RESPONSES = new Set([
  "The coordinator is loading and hence can't process requests for this group",
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'This server does not host this topic-partition',
]);

/** Routes kafkajs' own logging into pino so operators read one log format. */
function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log, namespace }: LogEntry) => {
      const { message, ...extra } = log;
      if (EXPECTED_WARNINGS.has(message)) return;
      const retried = namespace === 'Connection' && RETRIED_RESPONSES.has(String(extra.error));
      const name = retried ? 'debug' : (levelNames[level] ?? 'info');
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

export function createKafka({ brokers, clientId, logger, security = {} }: KafkaClientOptions): KafkaClient {
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

// The idempotent producer's session is broken, not the request: kafkajs has no way back from
// these (no epoch bump), every later send to the partition fails the same way.
const SESSION_BROKEN = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
]);

function sessionBroken(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.type === 'string' && SESSION_BROKEN.has(e.type)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/**
 * Producers always use the Java-compatible murmur2 partitioner, so a key lands on the same
 * partition whichever client (ours or an upstream Java service) produced it. They are
 * idempotent: a produce request retried after a lost acknowledgement (a broker failing over)
 * is written once, not twice (the broker de-duplicates by producer id and sequence). When a
 * failover leaves the broker and kafkajs disagreeing on a sequence (OUT_OF_ORDER_SEQUENCE_NUMBER,
 * which kafkajs cannot recover from), the producer is replaced by a new one (a new producer id)
 * and the send retried: the records may then be written twice, which the consumers' event and
 * result ids absorb; without it every later send would fail for good.
 */
export function createProducer(kafka: KafkaClient, config: ProducerConfig = {}): Producer {
  const make = () =>
    kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: JavaCompatiblePartitioner,
      idempotent: true,
      // what idempotence needs: one request in flight per broker, so sequences arrive in order
      maxInFlightRequests: 1,
      ...config,
    });
  let inner = make();
  let connected = false;
  const retrying =
    <A extends unknown[], R>(call: (p: Producer, ...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await call(inner, ...args);
        } catch (err) {
          if (!sessionBroken(err) || attempt >= 5) throw err;
          const broken = inner;
          inner = make();
          await broken.disconnect().catch(() => undefined);
          if (connected) await inner.connect();
        }
      }
    };
  const send = retrying((p, record: Parameters<Producer['send']>[0]) => p.send(record));
  const sendBatch = retrying((p, batch: Parameters<Producer['sendBatch']>[0]) => p.sendBatch(batch));
  return new Proxy({} as Producer, {
    get(_target, prop: keyof Producer) {
      switch (prop) {
        case 'send':
          return send;
        case 'sendBatch':
          return sendBatch;
        case 'connect':
          return async () => {
            connected = true;
            await inner.connect();
          };
        case 'disconnect':
          return async () => {
            connected = false;
            await inner.disconnect();
          };
        default: {
          const value = inner[prop];
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(inner) : value;
        }
      }
    },
  });
}
