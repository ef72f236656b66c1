-- The stock-levels changelog, recorded for the dashboard's SKU page: stock per warehouse over
-- time and the sales velocities behind the predictions. At least once: queries take the
-- newest row per version.
CREATE TABLE IF NOT EXISTS pipeline_metrics.stock_levels
(
    updated_at DateTime,
    updated_ms UInt64,
    sku String,
    version UInt64,
    on_hand Int64,
    reserved Int64,
    available Int64,
    reserved_per_hour Float64,
    sold_per_hour Float64,
    stockout_predicted UInt8,
    warehouses_json String,
    source_event_id String
)
ENGINE = MergeTree
PARTITION BY toDate(updated_at)
ORDER BY (sku, updated_ms);
