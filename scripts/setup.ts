import type { Kafka } from 'kafkajs';
import { createClickHouse, type ClickHouseOptions } from '../observability/clickhouse.js';
import { dropOldPartitions, migrate } from '../observability/migrate.js';
import type { Logger } from '../runtime/logger.js';
import type { AvroCodec } from '../schemas/codec.js';
import { registerAllSchemas } from '../schemas/register.js';
import { applyTopics, type ApplyReport, type TopicReplication } from '../topics/apply.js';
import { topicDefinitions } from '../topics/definitions.js';

export async function applyTopicsCommand(
  kafka: Kafka,
  prefix: string,
  logger: Logger,
  replication: TopicReplication,
): Promise<ApplyReport> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const report = await applyTopics(admin, prefix, topicDefinitions, replication);
    for (const t of report.created) logger.info({ topic: t }, 'topic created');
    for (const d of report.drift) logger.warn(d, 'topic drift: differs from topics/definitions.ts');
    logger.info(
      { created: report.created.length, unchanged: report.unchanged.length, drift: report.drift.length },
      'topics applied',
    );
    return report;
  } finally {
    await admin.disconnect();
  }
}

export async function registerSchemasCommand(
  codec: AvroCodec,
  registryUrl: string,
  logger: Logger,
): Promise<void> {
  const registered = await registerAllSchemas(codec, registryUrl);
  logger.info({ subjects: registered.map((r) => `${r.subject}#${r.id}`) }, 'schemas registered (BACKWARD)');
}

async function withClickHouse(
  options: ClickHouseOptions,
  fn: (client: ReturnType<typeof createClickHouse>) => Promise<void>,
): Promise<void> {
  const client = createClickHouse(options);
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

export function migrateClickHouseCommand(options: ClickHouseOptions, logger: Logger): Promise<void> {
  return withClickHouse(options, async (client) => {
    const report = await migrate(client);
    logger.info(
      { applied: report.applied, alreadyApplied: report.alreadyApplied.length },
      'ClickHouse migrations',
    );
  });
}

export function retentionCommand(
  options: ClickHouseOptions,
  keepDays: number,
  logger: Logger,
): Promise<void> {
  return withClickHouse(options, async (client) => {
    const dropped = await dropOldPartitions(client, keepDays);
    logger.info({ keepDays, dropped }, 'old metric partitions dropped');
  });
}
