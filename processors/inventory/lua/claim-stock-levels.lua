--[[
  claim-stock-levels: leases SKUs whose level the changelog owes a record, and reads their state.
  The stock script marks a SKU in {tag}:dirty (with the event that last changed it) in the same
  call as the change; the changelog drainer publishes the state it reads here, then acknowledges
  (ack-stock-levels). A lease keeps two drainers from publishing the same SKU at once; a drainer
  that dies leaves a lease that runs out, and the SKU is claimed again.

  KEYS[1]   {tag}:dirty         hash: sku -> "@<ms>|<eventId>|<topic:partition:offset>" (the time
                                of the change; "republish|" when a publisher found it moved on)
  KEYS[2]   {tag}:dirty-leases  zset: sku by lease end (ms)
  KEYS[3..] the SKU buckets named in ARGV[3]
  ARGV[1]   now (ms)   ARGV[2] lease (ms)
  ARGV[3]   JSON [ [ sku, <key idx> ], ... ]: candidates read from the hash beforehand
  ARGV[4]   grace (ms): a SKU changed more recently is left to the chunk that changed it, which
            publishes its level with its outputs and acknowledges it
  Returns a MessagePack array of strings ('' when none): sku, src, SKU record (sku-record.ts:
  bytes), warehouse parts or '', ... for the SKUs leased now (as apply-stock-batch returns levels).
]]

--- @include "stock-level"

local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local settled_before = now - tonumber(ARGV[4])
local out = {}
for _, c in ipairs(cjson.decode(ARGV[3])) do
  local sku, idx = c[1], c[2]
  local src = redis.call('HGET', KEYS[1], sku)
  local changed_at = src and tonumber(string.match(src, '^@(%d+)|'))
  if changed_at then src = string.sub(src, string.find(src, '|', 1, true) + 1) end
  local leased = tonumber(redis.call('ZSCORE', KEYS[2], sku) or '0')
  if src and leased <= now and (not changed_at or changed_at <= settled_before) then
    local s = load_sku(KEYS[idx], sku)
    local n = #out
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = sku, src, format_sku_record(s), level_parts(KEYS[idx], sku, s)
  end
end
for i = 1, #out, 4 do redis.call('ZADD', KEYS[2], now + lease, out[i]) end
if #out == 0 then return '' end
return cmsgpack.pack(out)
