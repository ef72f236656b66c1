-- Samples come every few seconds but can share a second (a manual sample next to the loop's),
-- and argMax over a DateTime then picks between them arbitrarily: the dashboard showed a
-- partition's previous status. Millisecond sample time makes "latest" unambiguous.
ALTER TABLE pipeline_metrics.consumer_lag ADD COLUMN sampled_ms UInt64 DEFAULT toUInt64(ts) * 1000
