import type { ClickHouseClient } from '@clickhouse/client';
import { METRICS_DATABASE } from '../clickhouse.js';

/**
 * The dashboard's queries, shared by the dashboard page and the Grafana JSON. ClickHouse 18.16
 * has no server-side query parameters, so SQL is built only from fixed identifiers and numbers
 * validated here; no text from a request ever reaches it.
 */

export function validMinutes(raw: unknown, fallback = 60): number {
  const n =
    raw === undefined || raw === null
      ? fallback
      : typeof raw === 'string' && /^\d{1,5}$/.test(raw)
        ? Number(raw)
        : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 7 * 24 * 60) {
    throw new RangeError('minutes must be a whole number from 1 to 10080');
  }
  return n;
}

export function validSeconds(raw: number): number {
  if (!Number.isInteger(raw) || raw < 1 || raw > 86_400) throw new RangeError('seconds must be 1..86400');
  return raw;
}

export function validLimit(raw: number): number {
  if (!Number.isInteger(raw) || raw < 1 || raw > 1_000) throw new RangeError('limit must be 1..1000');
  return raw;
}

/**
 * Where a chart's time range starts, as SQL. Only two ways to make one: the last N validated
 * minutes (the dashboard page) or Grafana's selected range (the Altinity ClickHouse data
 * source replaces $from with the range start in unix seconds).
 */
export interface TimeWindow {
  readonly startSql: string;
}

export function lastMinutes(raw: unknown): TimeWindow {
  return { startSql: `now() - ${validMinutes(raw) * 60}` };
}

export const GRAFANA_TIME_RANGE: TimeWindow = { startSql: 'toDateTime($from)' };

/** Alert kinds that end an alert raised before them on the same subject. */
export const CLEARING_ALERT_KINDS = [
  'RECOVERED',
  'BACK_IN_STOCK',
  'RESOLVED',
  'DELIVERED',
  'STOCKOUT_CLEARED',
] as const;

/** SKUs as the pipeline accepts them: safe to quote into a query (18.16 has no query parameters). */
const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validSku(raw: unknown): string {
  if (typeof raw !== 'string' || !SKU.test(raw)) throw new Error('sku must be a SKU code');
  return raw;
}

const clearing = CLEARING_ALERT_KINDS.map((k) => `'${k}'`).join(', ');

/** Events per second of a minute, dividing the current, unfinished minute by its elapsed seconds. */
const perSecond = (sum: string) =>
  `${sum} / if(minute = toStartOfMinute(now()), greatest(toUInt32(now()) - toUInt32(minute), 1), 60)`;

export const dashboardSql = {
  /** Per minute, processor and topic: rates and counts, from the rollup. */
  throughput: (window: TimeWindow) => `
    SELECT toUnixTimestamp(minute) AS t, processor, topic,
           ${perSecond('sumMerge(events_in)')} AS events_per_second,
           sumMerge(applied) AS applied, sumMerge(duplicates) AS duplicates,
           sumMerge(dead_lettered) AS dead_lettered, sumMerge(retries) AS retries
    FROM ${METRICS_DATABASE}.batches_1m
    WHERE minute >= toStartOfMinute(${window.startSql})
    GROUP BY minute, processor, topic
    ORDER BY minute`,
  /** Per minute, processor and topic: end-to-end latency quantiles, from the rollup's t-digests. */
  latency: (window: TimeWindow) => `
    SELECT toUnixTimestamp(minute) AS t, processor, topic,
           quantilesTDigestArrayMerge(0.5, 0.95, 0.99)(latency) AS q,
           maxMerge(latency_max_ms) AS max_ms
    FROM ${METRICS_DATABASE}.batches_1m
    WHERE minute >= toStartOfMinute(${window.startSql})
    GROUP BY minute, processor, topic
    ORDER BY minute`,
  /** The last `seconds` per processor and topic, from the raw rows: what the tiles show as "now". */
  current: (seconds: number) => `
    SELECT processor, topic,
           sum(events_in) / ${validSeconds(seconds)} AS events_per_second,
           sum(events_in) AS events, sum(applied) AS applied_events, sum(duplicates) AS duplicate_events,
           sum(dead_lettered) AS dead_letters, sum(retries) AS retried,
           quantilesTDigestArray(0.5, 0.95, 0.99)(latency_samples) AS q,
           max(latency_max_ms) AS max_ms, toUnixTimestamp(max(ts)) AS last_batch
    FROM ${METRICS_DATABASE}.batches
    WHERE ts >= now() - ${validSeconds(seconds)}
    GROUP BY processor, topic
    ORDER BY processor, topic`,
  /** Latest sample of every partition, summed per group and topic. */
  lag: () => `
    SELECT consumer_group, topic, sum(lag) AS lag_messages, max(secs) AS lag_seconds,
           max(at_least) AS lag_seconds_at_least, groupUniqArray(status) AS statuses, max(last) AS sampled_at
    FROM (
      SELECT consumer_group, topic, partition,
             argMax(lag_messages, sampled_ms) AS lag, argMax(lag_seconds, sampled_ms) AS secs,
             argMax(lag_seconds_at_least, sampled_ms) AS at_least, argMax(status, sampled_ms) AS status,
             toUnixTimestamp(max(ts)) AS last
      FROM ${METRICS_DATABASE}.consumer_lag
      WHERE ts >= now() - 600
      GROUP BY consumer_group, topic, partition
    )
    GROUP BY consumer_group, topic
    ORDER BY consumer_group, topic`,
  /** Lag per group over time: each sample's total, the largest per 10-second step. */
  lagHistory: (window: TimeWindow) => `
    SELECT intDiv(sample_ms, 10000) * 10 AS t, consumer_group, max(total) AS lag_messages
    FROM (
      SELECT consumer_group, sampled_ms AS sample_ms, sum(lag_messages) AS total
      FROM ${METRICS_DATABASE}.consumer_lag
      WHERE ts >= ${window.startSql}
      GROUP BY consumer_group, sampled_ms
    )
    GROUP BY t, consumer_group
    ORDER BY t`,
  /**
   * Per subject (a SKU, a consumer group, a tracking number) and source, the latest alert of the
   * last day, kept when it is not one that clears (a recovery, back in stock, delivered).
   */
  activeAlerts: () => `
    SELECT source, subject_key, last_kind AS kind, last_severity AS severity, last_message AS message,
           last_value AS value, last_ms AS raised_ms
    FROM (
      SELECT source, subject_key,
             argMax(kind, raised_ms) AS last_kind, argMax(severity, raised_ms) AS last_severity,
             argMax(message, raised_ms) AS last_message, argMax(value, raised_ms) AS last_value,
             max(raised_ms) AS last_ms
      FROM ${METRICS_DATABASE}.alerts
      WHERE raised_at >= now() - 86400
      GROUP BY source, subject_key
    )
    WHERE last_kind NOT IN (${clearing}) AND last_severity != 'INFO'
    ORDER BY last_severity = 'CRITICAL' DESC, last_ms DESC
    LIMIT 200`,
  /**
   * Dead letters of the range by input, reason and processor, each counted once however often
   * it was recorded, with the newest one's key and detail as the example.
   */
  deadLetters: (window: TimeWindow) => `
    SELECT input_topic, reason, processor,
           uniqExact(concat(toString(original_partition), ':', toString(original_offset))) AS dead_letters,
           max(at_ms) AS newest_ms, argMax(message_key, at_ms) AS example_key, argMax(detail, at_ms) AS example
    FROM ${METRICS_DATABASE}.dead_letters
    WHERE at >= ${window.startSql}
    GROUP BY input_topic, reason, processor
    ORDER BY dead_letters DESC, newest_ms DESC
    LIMIT 100`,
  /** Orders reaching each state, per minute: the order funnel. */
  orderFunnel: (window: TimeWindow) => `
    SELECT toUnixTimestamp(toStartOfMinute(changed_at)) AS t, to_state, uniqExact(transition_id) AS orders
    FROM ${METRICS_DATABASE}.order_transitions
    WHERE changed_at >= toStartOfMinute(${window.startSql})
    GROUP BY t, to_state
    ORDER BY t`,
  /**
   * SKUs with a standing stock-out prediction (their latest prediction alert of the week is not
   * a clearing one), soonest predicted stock-out first.
   */
  atRisk: (limit: number) => `
    SELECT sku, predicted_at, velocity_per_hour, available, cover_hours, lead_time_hours, last_ms AS raised_ms
    FROM (
      SELECT subject_key AS sku, argMax(kind, raised_ms) AS last_kind,
             argMax(visitParamExtractString(attributes_json, 'predictedAt'), raised_ms) AS predicted_at,
             argMax(visitParamExtractString(attributes_json, 'velocityPerHour'), raised_ms) AS velocity_per_hour,
             argMax(visitParamExtractString(attributes_json, 'coverHours'), raised_ms) AS cover_hours,
             argMax(visitParamExtractString(attributes_json, 'leadTimeHours'), raised_ms) AS lead_time_hours,
             argMax(value, raised_ms) AS available, max(raised_ms) AS last_ms
      FROM ${METRICS_DATABASE}.alerts
      WHERE source = 'STOCK' AND kind IN ('STOCKOUT_PREDICTED', 'STOCKOUT_CLEARED')
        AND raised_at >= now() - 7 * 86400
      GROUP BY subject_key
    )
    WHERE last_kind = 'STOCKOUT_PREDICTED'
    ORDER BY predicted_at
    LIMIT ${validLimit(limit)}`,
  /** The newest suggestion of each of these SKUs. */
  suggestions: (skus: readonly string[]) => `
    SELECT sku, argMax(reorder_point, updated_ms) AS reorder_point,
           argMax(suggested_quantity, updated_ms) AS suggested_quantity,
           argMax(reorder_now, updated_ms) AS reorder_now, max(updated_ms) AS last_ms
    FROM ${METRICS_DATABASE}.replenishment
    WHERE sku IN (${skus.length ? skus.map((s) => `'${validSku(s)}'`).join(', ') : `''`})
    GROUP BY sku`,
  /** A SKU's changelog, newest first (each version once). */
  skuLevels: (sku: string, limit: number) => `
    SELECT version, max(updated_ms) AS at_ms, any(on_hand) AS on_hand, any(reserved) AS reserved,
           any(available) AS available, any(reserved_per_hour) AS reserved_per_hour,
           any(sold_per_hour) AS sold_per_hour, any(stockout_predicted) AS stockout_predicted,
           any(warehouses_json) AS warehouses_json, any(source_event_id) AS source_event_id
    FROM ${METRICS_DATABASE}.stock_levels
    WHERE sku = '${validSku(sku)}'
    GROUP BY version
    ORDER BY version DESC
    LIMIT ${validLimit(limit)}`,
  /** A SKU's alerts of the last week, newest first, each once. */
  skuAlerts: (sku: string, limit: number) => `
    SELECT alert_id, any(kind) AS alert_kind, any(severity) AS alert_severity, any(message) AS alert_message,
           any(value) AS alert_value, max(raised_ms) AS at_ms
    FROM ${METRICS_DATABASE}.alerts
    WHERE source = 'STOCK' AND subject_key = '${validSku(sku)}' AND raised_at >= now() - 7 * 86400
    GROUP BY alert_id
    ORDER BY at_ms DESC
    LIMIT ${validLimit(limit)}`,
  /** The most recent stock alerts, each once however often it was recorded. */
  stockAlerts: (limit: number) => `
    SELECT alert_id, any(kind) AS alert_kind, any(severity) AS alert_severity, any(subject_key) AS sku,
           any(message) AS alert_message, any(value) AS alert_value, max(raised_ms) AS at_ms
    FROM ${METRICS_DATABASE}.alerts
    WHERE source = 'STOCK' AND raised_at >= now() - 86400
    GROUP BY alert_id
    ORDER BY at_ms DESC
    LIMIT ${validLimit(limit)}`,
};

export async function runDashboardQuery<T>(client: ClickHouseClient, sql: string): Promise<T[]> {
  const rs = await client.query({ query: sql, format: 'JSONEachRow' });
  return rs.json<T>();
}
