-- Replenishment suggestions (topic `replenishment`), recorded for the dashboard: the latest
-- per SKU is the one that stands.
CREATE TABLE IF NOT EXISTS pipeline_metrics.replenishment
(
    updated_at DateTime,
    updated_ms UInt64,
    suggestion_id String,
    sku String,
    reorder_point Int64,
    suggested_quantity Int64,
    reorder_now UInt8,
    available Int64,
    velocity_per_hour Float64,
    lead_time_hours Int32
)
ENGINE = MergeTree
PARTITION BY toDate(updated_at)
ORDER BY (sku, updated_ms);
