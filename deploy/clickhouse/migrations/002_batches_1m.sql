-- Per-minute rollup kept by a materialized view, so dashboards stay fast over weeks of data.
-- Latency quantiles are t-digest states over each batch's latency samples (the -Array combinator
-- folds the sample array without multiplying the counters).
CREATE TABLE IF NOT EXISTS pipeline_metrics.batches_1m
(
    minute DateTime,
    processor String,
    consumer_group String,
    topic String,
    batches AggregateFunction(count),
    events_in AggregateFunction(sum, UInt32),
    applied AggregateFunction(sum, UInt32),
    duplicates AggregateFunction(sum, UInt32),
    skipped AggregateFunction(sum, UInt32),
    dead_lettered AggregateFunction(sum, UInt32),
    retries AggregateFunction(sum, UInt32),
    processing_ms AggregateFunction(sum, Float32),
    latency AggregateFunction(quantilesTDigestArray(0.5, 0.95, 0.99), Array(Float32)),
    latency_max_ms AggregateFunction(max, Float32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (processor, consumer_group, topic, minute);
