--[[
  apply-catalogue: applies SKU reference data (threshold, safety stock), last writer wins by
  version. Idempotent by construction: an update whose version is not newer than the applied
  one changes nothing, so every instance may apply the whole compacted topic.

  KEYS[1..n]  SKU hashes {tag}:s:<sku>
  ARGV[1]     JSON [ { s=<key idx>, sku, v=<version>, th, sf }, ... ]
  Returns JSON [ { sku, st = 'ok'|'stale', out = [ alerts ] } ] for every update.
]]

--- @include "stock-level"

local updates = cjson.decode(ARGV[1])
local results = {}
for _, u in ipairs(updates) do
  local key = KEYS[u.s]
  local s = load_sku(key)
  if s.cv and s.cv >= u.v then
    results[#results + 1] = { sku = u.sku, st = 'stale', out = {} }
  else
    local out = {}
    local new_sku = not s.cv
    s.cv = u.v
    s.th = u.th
    s.sf = u.sf
    if new_sku then
      s.lv = -1
    else
      follow_level(s, u.sku, out)
    end
    save_sku(key, s)
    results[#results + 1] = { sku = u.sku, st = 'ok', out = out }
  end
end
return cjson.encode(results)
