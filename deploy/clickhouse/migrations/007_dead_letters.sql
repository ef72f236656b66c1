-- Every dead letter of every input, copied from the `.dlq` topics so the dashboard can show
-- counts by input and reason with the newest example. At least once: queries count distinct
-- (processor, original partition, original offset).
CREATE TABLE IF NOT EXISTS pipeline_metrics.dead_letters
(
    at DateTime,
    at_ms UInt64,
    input_topic String,
    processor String,
    reason String,
    original_partition UInt32,
    original_offset UInt64,
    message_key String,
    detail String
)
ENGINE = MergeTree
PARTITION BY toDate(at)
ORDER BY (input_topic, reason, at_ms);
