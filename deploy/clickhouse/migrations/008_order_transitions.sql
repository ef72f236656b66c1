-- Every order state transition from the `order-status` topic: the dashboard's order funnel
-- (placed, reserved, paid, shipped, delivered, cancelled, expired per minute). At least once:
-- queries count distinct transition ids.
CREATE TABLE IF NOT EXISTS pipeline_metrics.order_transitions
(
    changed_at DateTime,
    changed_ms UInt64,
    transition_id String,
    order_id String,
    to_state String,
    cause String
)
ENGINE = MergeTree
PARTITION BY toDate(changed_at)
ORDER BY (to_state, changed_ms);
