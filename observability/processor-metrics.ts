import type { CommonConfig } from '../runtime/config.js';
import type { Logger } from '../runtime/logger.js';
import { PrometheusSink } from '../runtime/prometheus.js';
import { FanOutSink, LogSummarySink, type MetricsSink } from '../runtime/metrics.js';
import { ClickHouseMetricsSink } from './clickhouse-sink.js';
import { createClickHouse } from './clickhouse.js';

/**
 * What every processor records its batches to: a log summary, the Prometheus registry (served
 * on /metrics when HEALTH_PORT is set), plus ClickHouse when enabled.
 */
export function processorMetrics(config: CommonConfig, logger: Logger): MetricsSink {
  const local = [new LogSummarySink(logger), new PrometheusSink()];
  if (!config.METRICS_ENABLED) return new FanOutSink(local);
  const clickhouse = createClickHouse({
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    caFile: config.CLICKHOUSE_CA_FILE,
  });
  return new FanOutSink([...local, new ClickHouseMetricsSink(clickhouse, logger)]);
}
