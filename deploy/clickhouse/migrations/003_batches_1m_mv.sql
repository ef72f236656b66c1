CREATE MATERIALIZED VIEW IF NOT EXISTS pipeline_metrics.batches_1m_mv
TO pipeline_metrics.batches_1m
AS SELECT
    toStartOfMinute(ts) AS minute,
    processor,
    consumer_group,
    topic,
    countState() AS batches,
    sumState(events_in) AS events_in,
    sumState(applied) AS applied,
    sumState(duplicates) AS duplicates,
    sumState(skipped) AS skipped,
    sumState(dead_lettered) AS dead_lettered,
    sumState(retries) AS retries,
    sumState(processing_ms) AS processing_ms,
    quantilesTDigestArrayState(0.5, 0.95, 0.99)(latency_samples) AS latency,
    maxState(latency_max_ms) AS latency_max_ms
FROM pipeline_metrics.batches
GROUP BY minute, processor, consumer_group, topic;
