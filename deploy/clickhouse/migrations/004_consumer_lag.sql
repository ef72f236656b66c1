-- Lag per consumer group, topic and partition, one row per sample (every few seconds).
CREATE TABLE IF NOT EXISTS pipeline_metrics.consumer_lag
(
    ts DateTime,
    consumer_group String,
    topic String,
    partition UInt16,
    committed Int64,
    log_end Int64,
    lag_messages Int64,
    lag_seconds Float32,
    lag_seconds_at_least UInt8,
    status String
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (consumer_group, topic, partition, ts);
