-- One row per processed chunk of one partition, written by the processors' metrics sink.
-- Partitioned by day so that retention is `ALTER TABLE ... DROP PARTITION` (18.16 has no TTL).
CREATE TABLE IF NOT EXISTS pipeline_metrics.batches
(
    ts DateTime,
    processor String,
    consumer_group String,
    topic String,
    partition UInt16,
    events_in UInt32,
    applied UInt32,
    duplicates UInt32,
    skipped UInt32,
    dead_lettered UInt32,
    retries UInt32,
    processing_ms Float32,
    redis_ms Float32,
    latency_max_ms Float32,
    latency_samples Array(Float32)
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (processor, topic, ts);
