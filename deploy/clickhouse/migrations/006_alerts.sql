-- Every alert published to the alerts topic (stock, logistics, lag), recorded so the dashboard
-- can show active and recent alerts through the read-only user. The recorder is at-least-once,
-- so a redelivered alert can appear twice: queries group by alert_id.
CREATE TABLE IF NOT EXISTS pipeline_metrics.alerts
(
    raised_at DateTime,
    raised_ms UInt64,
    alert_id String,
    source String,
    kind String,
    severity String,
    subject_key String,
    message String,
    value Nullable(Int64),
    attributes_json String
)
ENGINE = MergeTree
PARTITION BY toDate(raised_at)
ORDER BY (source, subject_key, raised_ms)
