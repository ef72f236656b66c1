--[[
  ack-stock-levels: after Kafka acknowledged level records, from a changelog drainer (leased
  SKUs) or from the chunk that changed the SKUs (its outputs carried them). A SKU whose state
  still has the published version is done; one that changed meanwhile stays (or is put back) in
  the dirty hash, so its newer state is published after this record. That makes the last record
  of every SKU in the compacted changelog its current state, however many processes publish
  and in whatever order their records land: a record is only ever accepted as last while it is
  current and no other publisher's record of the SKU can still land after it.

  Other publishers in flight: chunks that changed the SKU and have not acknowledged yet
  ({tag}:dirty-pending counts them) and a drainer holding a lease. A chunk's acknowledgement
  clears the mark only when neither is left; the ones left acknowledge themselves later, or,
  if they died, the drainer takes the SKU over once its last change is older than the grace
  and its acknowledgement forgives their counts (what a dead process sent landed before then).

  KEYS[1] {tag}:dirty   KEYS[2] {tag}:dirty-leases   KEYS[3] {tag}:dirty-pending
  KEYS[4..] the SKU buckets
  ARGV[1] JSON [ [ sku, <key idx>, <published version> ], ... ]
  ARGV[2] '1' when a drainer acknowledges its leased SKUs, '0' for a chunk's own records
  ARGV[3] now (ms)
  Returns the number of SKUs still owed a record.
]]

--- @include "stock-level"

local dirty_key, leases_key, pending_key = KEYS[1], KEYS[2], KEYS[3]
local by_drainer = ARGV[2] == '1'
local now = tonumber(ARGV[3])
local again = 0
for _, a in ipairs(cjson.decode(ARGV[1])) do
  local sku, idx, version = a[1], a[2], a[3]
  local current = load_sku(KEYS[idx], sku).v == version
  local others = false
  if by_drainer then
    redis.call('ZREM', leases_key, sku)
    if current then redis.call('HDEL', pending_key, sku) end
  else
    local left = redis.call('HINCRBY', pending_key, sku, -1)
    if left <= 0 then redis.call('HDEL', pending_key, sku) end
    others = left > 0 or tonumber(redis.call('ZSCORE', leases_key, sku) or '0') > now
  end
  if not current then
    redis.call('HSETNX', dirty_key, sku, 'republish|')
    again = again + 1
  elseif not others then
    redis.call('HDEL', dirty_key, sku)
  end
end
return again
