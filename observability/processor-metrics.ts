import type { CommonConfig } from '../runtime/config.js';
import type { Logger } from '../runtime/logger.js';
import { FanOutSink, LogSummarySink, type MetricsSink } from '../runtime/metrics.js';
import { ClickHouseMetricsSink } from './clickhouse-sink.js';
import { createClickHouse } from './clickhouse.js';

/** What every processor records its batches to: a log summary, plus ClickHouse when enabled. */
export function processorMetrics(config: CommonConfig, logger: Logger): MetricsSink {
  const summary = new LogSummarySink(logger);
  if (!config.METRICS_ENABLED) return summary;
  const clickhouse = createClickHouse({
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    caFile: config.CLICKHOUSE_CA_FILE,
  });
  return new FanOutSink([summary, new ClickHouseMetricsSink(clickhouse, logger)]);
}
