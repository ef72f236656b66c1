--[[
  ack-stock-levels: after Kafka acknowledged the level records of claimed SKUs. A SKU whose state
  still has the published version is done; one that changed meanwhile stays (or is put back) in
  the dirty hash, so its newer state is published after this record. That makes the last record
  of every SKU in the compacted changelog its current state, however many processes publish
  and in whatever order their records land: a record is only ever accepted as last while it is
  current, and any change after that is published again later.

  KEYS[1] {tag}:dirty   KEYS[2] {tag}:dirty-leases   KEYS[3..] the SKU hashes
  ARGV[1] JSON [ [ sku, <key idx>, <published version> ], ... ]
  Returns the number of SKUs still owed a record.
]]

--- @include "stock-level"

local again = 0
for _, a in ipairs(cjson.decode(ARGV[1])) do
  local sku, idx, version = a[1], a[2], a[3]
  redis.call('ZREM', KEYS[2], sku)
  if load_sku(KEYS[idx]).v == version then
    redis.call('HDEL', KEYS[1], sku)
  else
    redis.call('HSETNX', KEYS[1], sku, 'republish|')
    again = again + 1
  end
end
return again
