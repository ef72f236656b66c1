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
--- @include "multi-member"

local dirty_key, leases_key, pending_key = KEYS[1], KEYS[2], KEYS[3]
local by_drainer = ARGV[2] == '1'
local now = tonumber(ARGV[3])
local acks = cjson.decode(ARGV[1])
if #acks == 0 then return 0 end

local skus, current = {}, {}
for i, a in ipairs(acks) do
  skus[i] = a[1]
  current[i] = load_sku_version(KEYS[a[2]], a[1]) == a[3]
end

--- @section "ack-load-skus"
-- other publishers of each SKU still in flight, decided for every SKU first and written once
local others = {}
if by_drainer then
  call_in_groups('ZREM', leases_key, skus)
  local forgiven = {}
  for i, sku in ipairs(skus) do
    if current[i] then forgiven[#forgiven + 1] = sku end
  end
  call_in_groups('HDEL', pending_key, forgiven)
else
  -- a SKU can be acknowledged twice in one call (records of two chunks): each owes one count
  local owed, distinct = {}, {}
  for _, sku in ipairs(skus) do
    if not owed[sku] then distinct[#distinct + 1] = sku end
    owed[sku] = (owed[sku] or 0) + 1
  end
  local pending = read_in_groups('HMGET', pending_key, distinct)
  local leased = read_in_groups('ZMSCORE', leases_key, distinct)
  local busy, still, done = {}, {}, {}
  for i, sku in ipairs(distinct) do
    local left = (tonumber(pending[i]) or 0) - owed[sku]
    if left > 0 then
      still[#still + 1] = sku
      still[#still + 1] = string.format('%d', left)
    else
      done[#done + 1] = sku
    end
    busy[sku] = left > 0 or (tonumber(leased[i]) or 0) > now
  end
  call_in_groups('HSET', pending_key, still)
  call_in_groups('HDEL', pending_key, done)
  for i, sku in ipairs(skus) do others[i] = busy[sku] end
end

--- @section "ack-pending-counts"
-- in the order the records were published: the last one of a SKU decides, as it lands last
local again, verdict, order = 0, {}, {}
for i, sku in ipairs(skus) do
  if verdict[sku] == nil then order[#order + 1] = sku end
  if not current[i] then
    verdict[sku] = 'republish'
    again = again + 1
  elseif not others[i] then
    verdict[sku] = 'clear'
  else
    verdict[sku] = verdict[sku] or 'keep'
  end
end
local cleared = {}
for _, sku in ipairs(order) do
  if verdict[sku] == 'republish' then
    redis.call('HSETNX', dirty_key, sku, 'republish|')
  elseif verdict[sku] == 'clear' then
    cleared[#cleared + 1] = sku
  end
end
call_in_groups('HDEL', dirty_key, cleared)
--- @section "ack-verdicts"
return again
