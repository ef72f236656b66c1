import type { ClickHouseClient } from '@clickhouse/client';
import { METRICS_DATABASE } from '../clickhouse.js';

/**
 * The dashboard's queries, shared by the dashboard page and the Grafana JSON. ClickHouse 18.16
 * has no server-side query parameters, so SQL is built only from fixed identifiers and numbers
 * validated here; no text from a request ever reaches it.
 */

export function validMinutes(raw: unknown, fallback = 60): number {
  const n =
    typeof raw === 'string' && /^\d{1,5}$/.test(raw) ? Number(raw) : typeof raw === 'number' ? raw : fallback;
  if (!Number.isInteger(n) || n < 1 || n > 7 * 24 * 60) throw new RangeError('minutes must be 1..10080');
  return n;
}

export const dashboardSql = {
  throughput: (minutes: number) => `
    SELECT toUnixTimestamp(minute) AS t, processor, topic,
           sumMerge(events_in) / 60 AS events_per_second,
           sumMerge(applied) AS applied, sumMerge(duplicates) AS duplicates,
           sumMerge(dead_lettered) AS dead_lettered, sumMerge(retries) AS retries
    FROM ${METRICS_DATABASE}.batches_1m
    WHERE minute >= toStartOfMinute(now()) - ${validMinutes(minutes) * 60}
    GROUP BY minute, processor, topic
    ORDER BY minute`,
  latency: (minutes: number) => `
    SELECT toUnixTimestamp(minute) AS t, processor,
           quantilesTDigestArrayMerge(0.5, 0.95, 0.99)(latency) AS q,
           maxMerge(latency_max_ms) AS max_ms
    FROM ${METRICS_DATABASE}.batches_1m
    WHERE minute >= toStartOfMinute(now()) - ${validMinutes(minutes) * 60}
    GROUP BY minute, processor
    ORDER BY minute`,
  lag: () => `
    SELECT consumer_group, topic, sum(lag) AS lag_messages, max(secs) AS lag_seconds,
           max(at_least) AS lag_seconds_at_least, groupUniqArray(status) AS statuses, max(last) AS sampled_at
    FROM (
      SELECT consumer_group, topic, partition,
             argMax(lag_messages, ts) AS lag, argMax(lag_seconds, ts) AS secs,
             argMax(lag_seconds_at_least, ts) AS at_least, argMax(status, ts) AS status,
             toUnixTimestamp(max(ts)) AS last
      FROM ${METRICS_DATABASE}.consumer_lag
      WHERE ts >= now() - 600
      GROUP BY consumer_group, topic, partition
    )
    GROUP BY consumer_group, topic
    ORDER BY consumer_group, topic`,
};

export async function runDashboardQuery<T>(client: ClickHouseClient, sql: string): Promise<T[]> {
  const rs = await client.query({ query: sql, format: 'JSONEachRow' });
  return rs.json<T>();
}
