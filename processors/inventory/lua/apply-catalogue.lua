--[[
  apply-catalogue: applies SKU reference data (threshold, safety stock), last writer wins by
  version. Idempotent by construction: an update whose version is not newer than the applied
  one changes nothing, so every instance may apply the whole compacted topic.

  An alert the update causes (a new threshold puts the SKU at another level) is not returned to
  the caller but queued in the same call in a pending-alerts zset, from which the changelog
  drainer publishes it (at least once, with an id made of the SKU, the version and the kind):
  an instance that dies after applying an update loses no alert, and the others, which find the
  version already applied, need not know about it.

  KEYS      {tag}:sb:<bucket> SKU buckets and {tag}:catalogue-alerts (zset: score = when due, member
            = JSON { sku, v, kind, on, rs, th }), referenced from ARGV[1] by index
  ARGV[1]   JSON { pa = <pending alerts idx>, u = [ { s = <key idx>, sku, v = <version>, th, sf,
            lt = <lead time h>, oc = <order cost, cents>, hc = <holding cost per unit-day, millionths> } ] }
            (a new lead time or cost shows in predictions and suggestions from the SKU's next event on)
  ARGV[2]   now (ms)
  Returns JSON [ { sku, st = 'ok'|'stale', n = <alerts queued> } ] for every update.
]]

--- @include "stock-level"

local input = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
local pending = KEYS[input.pa]
redis.call('ZCARD', pending)

-- decide everything first; nothing is written if any record is corrupt
local states, order, results, alerts = {}, {}, {}, {}
for _, u in ipairs(input.u) do
  local key = KEYS[u.s]
  local s = states[u.sku]
  if not s then
    s = load_sku(key, u.sku)
    s.key = key
    states[u.sku] = s
  end
  if s.cv and s.cv >= u.v then
    results[#results + 1] = { sku = u.sku, st = 'stale', n = 0 }
  else
    local out = {}
    local new_sku = not s.cv
    s.cv = u.v
    s.th = u.th
    s.sf = u.sf
    s.lt = u.lt
    s.oc = u.oc
    s.hc = u.hc
    if new_sku then
      s.lv = -1
    else
      follow_level(s, u.sku, out)
    end
    for _, a in ipairs(out) do
      alerts[#alerts + 1] = cjson.encode({ sku = u.sku, v = u.v, kind = a.kind, on = a.on, rs = a.rs, th = a.th })
    end
    if not s.queued then
      s.queued = true
      order[#order + 1] = u.sku
    end
    results[#results + 1] = { sku = u.sku, st = 'ok', n = #out }
  end
end

for _, sku in ipairs(order) do save_sku(states[sku].key, sku, states[sku]) end
for _, member in ipairs(alerts) do redis.call('ZADD', pending, now, member) end
return cjson.encode(results)
