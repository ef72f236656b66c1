import { ConfigError, readEnv, redact, type EnvSpec, type EnvValues } from './env.js';

/** Variables every component reads; processors add their own on top. */
export const commonEnv = {
  KAFKA_BROKERS: {
    kind: 'list',
    default: ['127.0.0.1:19092'],
    doc: 'Kafka bootstrap servers, comma-separated.',
  },
  KAFKA_CLIENT_ID: { kind: 'string', default: 'ecom-pipeline', doc: 'Client id sent to Kafka.' },
  KAFKA_SASL_MECHANISM: {
    kind: 'enum',
    values: ['none', 'plain', 'scram-sha-256', 'scram-sha-512'],
    default: 'none',
    doc: 'SASL mechanism for Kafka; with one set, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required.',
  },
  KAFKA_SASL_USERNAME: { kind: 'string', doc: 'Kafka SASL user.' },
  KAFKA_SASL_PASSWORD: { kind: 'string', secret: true, doc: 'Kafka SASL password.' },
  KAFKA_SSL: { kind: 'bool', default: false, doc: 'Connect to Kafka over TLS.' },
  KAFKA_SSL_CA_FILE: {
    kind: 'string',
    doc: "PEM file of the CA that signed the brokers' certificates (TLS).",
  },
  SCHEMA_REGISTRY_URL: {
    kind: 'url',
    protocols: ['http', 'https'],
    default: 'http://127.0.0.1:18081/apis/ccompat/v7',
    secret: false,
    doc: 'Confluent-compatible schema registry base URL (Apicurio: .../apis/ccompat/v7).',
  },
  SCHEMA_REGISTRY_CA_FILE: {
    kind: 'string',
    doc: "PEM file of the CA that signed the registry's certificate (an https:// SCHEMA_REGISTRY_URL).",
  },
  REDIS_URL: {
    kind: 'url',
    protocols: ['redis', 'rediss'],
    default: 'redis://pipeline:pipeline-local-only@127.0.0.1:16379',
    doc: "Redis holding the state, as an ACL user (default: the local stack's `pipeline` user); never logged.",
  },
  REDIS_CLUSTER_NODES: {
    kind: 'list',
    default: [],
    doc: 'host:port of Redis Cluster nodes; when set, used instead of the host in REDIS_URL (its user and password still apply).',
  },
  REDIS_DURABILITY: {
    kind: 'enum',
    values: ['fsync', 'replicas', 'none'],
    default: 'fsync',
    doc: 'When a state change is safe to publish: fsync (one Redis node, appendfsync always), replicas (WAIT for REDIS_WAIT_REPLICAS after each script call), none.',
  },
  REDIS_WAIT_REPLICAS: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 16,
    doc: 'With REDIS_DURABILITY=replicas: replicas that must acknowledge each script call.',
  },
  REDIS_WAIT_TIMEOUT_MS: {
    kind: 'int',
    default: 2_000,
    min: 10,
    doc: 'With REDIS_DURABILITY=replicas: how long a call waits for them before it is retried.',
  },
  PROCESSOR_STALL_AFTER_MS: {
    kind: 'int',
    default: 60_000,
    min: 1_000,
    doc: 'A partition with work and no progress this long is stalled: /readyz turns false and an alert is raised.',
  },
  CLICKHOUSE_URL: {
    kind: 'url',
    protocols: ['http', 'https'],
    default: 'http://127.0.0.1:18123',
    doc: 'ClickHouse HTTP endpoint for metrics.',
  },
  CLICKHOUSE_CA_FILE: {
    kind: 'string',
    doc: "PEM file of the CA that signed ClickHouse's certificate (an https:// CLICKHOUSE_URL).",
  },
  CLICKHOUSE_USER: {
    kind: 'string',
    default: 'pipeline_writer',
    doc: 'ClickHouse user the processors write metrics as (insert-only in production).',
  },
  CLICKHOUSE_PASSWORD: {
    kind: 'string',
    default: 'writer-local-only',
    secret: true,
    doc: "ClickHouse password (the default matches the local stack's writer).",
  },
  CLICKHOUSE_ADMIN_USER: {
    kind: 'string',
    default: 'default',
    doc: 'ClickHouse user that applies migrations.',
  },
  CLICKHOUSE_ADMIN_PASSWORD: { kind: 'string', default: '', secret: true, doc: 'Its password.' },
  METRICS_ENABLED: {
    kind: 'bool',
    default: true,
    doc: 'Write batch metrics to ClickHouse (a processor never waits for it).',
  },
  ORDER_SIGNING_SECRET: {
    kind: 'string',
    secret: true,
    pattern: /^.{16,}$/,
    doc: 'When set, order events must carry an HMAC-SHA256 signature made with it (16+ characters); others are dead-lettered.',
  },
  STARTUP_ATTEMPTS: {
    kind: 'int',
    default: 10,
    min: 1,
    doc: 'Attempts to start a processor while Kafka or Redis is not reachable yet, before exiting 1.',
  },
  STARTUP_RETRY_MS: { kind: 'int', default: 3_000, min: 100, doc: 'Wait between those attempts.' },
  HEALTH_PORT: {
    kind: 'int',
    default: 0,
    min: 0,
    max: 65_535,
    doc: 'Serve /healthz and /readyz on this port (0: off).',
  },
  TOPIC_REPLICATION_FACTOR: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 7,
    doc: 'Copies of every partition when topics are created (3 in production); checked for drift.',
  },
  TOPIC_MIN_INSYNC_REPLICAS: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 7,
    doc: 'min.insync.replicas of every topic (2 with 3 copies): acknowledged writes survive a broker.',
  },
  TOPIC_PREFIX: {
    kind: 'string',
    default: '',
    pattern: /^[A-Za-z0-9._-]*$/,
    doc: 'Prefix for every topic and subject name (isolates environments and test runs).',
  },
  LOG_LEVEL: {
    kind: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    doc: 'pino log level.',
  },
  LOG_FORMAT: {
    kind: 'enum',
    values: ['auto', 'json', 'pretty'],
    default: 'auto',
    doc: 'json: one JSON line per event; pretty: one readable line; auto: pretty on a terminal, json otherwise.',
  },
} as const satisfies Record<string, EnvSpec>;

export type CommonConfig = EnvValues<typeof commonEnv>;

export function loadCommonConfig(env: NodeJS.ProcessEnv = process.env): CommonConfig {
  return readEnv(commonEnv, env);
}

export function printableCommonConfig(config: CommonConfig): Record<string, unknown> {
  return redact(commonEnv, config);
}

/** Rules across variables, which the per-variable schema cannot express. */
export function checkCommonConfig(config: Partial<CommonConfig>): void {
  const problems: string[] = [];
  if (config.KAFKA_SASL_MECHANISM && config.KAFKA_SASL_MECHANISM !== 'none') {
    if (!config.KAFKA_SASL_USERNAME || !config.KAFKA_SASL_PASSWORD) {
      problems.push(
        `KAFKA_SASL_MECHANISM=${config.KAFKA_SASL_MECHANISM} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
      );
    }
  }
  if (config.KAFKA_SSL_CA_FILE && !config.KAFKA_SSL)
    problems.push('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true');
  if (config.SCHEMA_REGISTRY_CA_FILE && !config.SCHEMA_REGISTRY_URL?.startsWith('https:'))
    problems.push('SCHEMA_REGISTRY_CA_FILE is set but SCHEMA_REGISTRY_URL is not https://');
  if (config.CLICKHOUSE_CA_FILE && !config.CLICKHOUSE_URL?.startsWith('https:'))
    problems.push('CLICKHOUSE_CA_FILE is set but CLICKHOUSE_URL is not https://');
  if (problems.length) throw new ConfigError(problems);
}

/** For entry points: a configuration problem ends the process with every problem listed. */
export function configOrExit<T>(load: () => T): T {
  try {
    const config = load();
    checkCommonConfig(config as Partial<CommonConfig>);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
