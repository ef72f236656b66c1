--[[
  sweep-predictions: re-checks, as of now, SKUs with a standing stock-out prediction. A SKU's
  velocity is brought forward only by its own events, so one that stopped selling would keep
  its prediction until its next event; this notices the slowdown without one. A SKU whose
  cover (available / velocity decayed to now) has risen to 1.1x its horizon is cleared, as the
  stock script would clear it: STOCKOUT_CLEARED is queued with the pending alerts (the changelog
  drainer publishes them, at least once, with an id made of the SKU and its new version), and
  the SKU gets a new version and a changelog mark, so stock-levels says so too.

  KEYS[1] {tag}:at-risk   KEYS[2] {tag}:catalogue-alerts (pending alerts)   KEYS[3] {tag}:dirty
  KEYS[4..] the SKU buckets named in ARGV[3]
  ARGV[1] now (ms)   ARGV[2] JSON { h = <half-life s>, m = <margin h> }
  ARGV[3] JSON [ [ sku, <bucket idx> ], ... ]: members of the at-risk zset read beforehand
  Returns the number of predictions cleared.
]]

--- @include "stock-level"
--- @include "forecast"

local now_ms = tonumber(ARGV[1])
local now = math.floor(now_ms / 1000)
forecast_settings(cjson.decode(ARGV[2]))
local cleared = 0
for _, c in ipairs(cjson.decode(ARGV[3])) do
  local sku, key = c[1], KEYS[c[2]]
  local s = redis.call('HEXISTS', key, sku) == 1 and load_sku(key, sku)
  if not s or not has_flag(s, PREDICTED) then
    -- cleared by an event since it was read, or the SKU is gone
    redis.call('ZREM', KEYS[1], sku)
  else
    local v, available, cover, horizon = forecast_figures(s, now)
    if available > 0 and (not cover or cover >= horizon * CLEAR_FACTOR) then
      set_flag(s, PREDICTED, false)
      s.v = s.v + 1
      save_sku(key, sku, s)
      redis.call('ZREM', KEYS[1], sku)
      redis.call('ZADD', KEYS[2], now_ms, cjson.encode({ sku = sku, v = s.v, kind = 'STOCKOUT_CLEARED',
        on = s.on, rs = s.rs, th = s.th, vel = v, lt = s.lt, src = 'forecast-sweep' }))
      redis.call('HSET', KEYS[3], sku, '@' .. string.format('%d', now_ms) .. '|forecast-sweep:' .. sku .. ':'
        .. string.format('%d', s.v) .. '|')
      cleared = cleared + 1
    end
  end
end
return cleared
