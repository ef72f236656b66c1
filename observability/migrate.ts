import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { METRICS_DATABASE } from './clickhouse.js';

const migrationsDir = fileURLToPath(new URL('../deploy/clickhouse/migrations/', import.meta.url));

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

/**
 * Applies deploy/clickhouse/migrations/NNN_*.sql in order, once each, recording them in
 * schema_migrations. Every statement is also IF NOT EXISTS, so a half-applied run can be
 * repeated. The DDL is written for ClickHouse 18.16 and runs unchanged on current versions.
 */
export async function migrate(client: ClickHouseClient): Promise<MigrationReport> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${METRICS_DATABASE}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${METRICS_DATABASE}.schema_migrations
            (version UInt32, name String, applied_at DateTime) ENGINE = TinyLog`,
  });
  const rows = await client.query({
    query: `SELECT version FROM ${METRICS_DATABASE}.schema_migrations`,
    format: 'JSONEachRow',
  });
  const done = new Set((await rows.json<{ version: number }>()).map((r) => Number(r.version)));
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  const files = readdirSync(migrationsDir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort();
  for (const file of files) {
    const version = Number(file.split('_')[0]);
    if (done.has(version)) {
      report.alreadyApplied.push(file);
      continue;
    }
    const sql = readFileSync(migrationsDir + file, 'utf8')
      .split('\n')
      .filter((l) => !l.trim().startsWith('--'))
      .join('\n')
      .trim()
      .replace(/;\s*$/, '');
    await client.command({ query: sql });
    await client.insert({
      table: `${METRICS_DATABASE}.schema_migrations`,
      values: [{ version, name: file, applied_at: new Date().toISOString().slice(0, 19).replace('T', ' ') }],
      format: 'JSONEachRow',
    });
    report.applied.push(file);
  }
  return report;
}

/**
 * Retention without TTL (18.16 has none): drops whole day partitions older than `keepDays`
 * from every table partitioned by date.
 */
export async function dropOldPartitions(
  client: ClickHouseClient,
  keepDays: number,
  now = Date.now(),
): Promise<string[]> {
  const cutoff = new Date(now - keepDays * 86_400_000).toISOString().slice(0, 10);
  const rows = await client.query({
    query: `SELECT DISTINCT table, partition FROM system.parts
            WHERE database = '${METRICS_DATABASE}' AND active AND table IN ('batches', 'batches_1m', 'consumer_lag', 'alerts', 'dead_letters', 'order_transitions', 'stock_levels', 'replenishment')`,
    format: 'JSONEachRow',
  });
  const dropped: string[] = [];
  for (const { table, partition } of await rows.json<{ table: string; partition: string }>()) {
    const day = partition.replace(/'/g, '');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || day >= cutoff) continue;
    await client.command({ query: `ALTER TABLE ${METRICS_DATABASE}.${table} DROP PARTITION '${day}'` });
    dropped.push(`${table}/${day}`);
  }
  return dropped;
}
