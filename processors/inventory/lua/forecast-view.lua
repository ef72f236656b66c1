--[[
  forecast-view: a SKU's forecast as of now, for operators (`stock show`): read only. The same
  rules as the stock script's (includes/forecast.lua), with the velocities brought forward to
  now instead of to the SKU's last event.

  KEYS[1]   the SKU's bucket ({tag}:sb:<n>)
  ARGV[1]   sku   ARGV[2] now (ms)   ARGV[3] JSON { h = <half-life s>, m = <margin h> }
  Returns JSON { reserved, sold, demand (units/h), cover (h, absent without demand), horizon (h),
  predictedAt (ms, absent without demand), reorderPoint, quantity, due } or nil for an unknown SKU.
]]

--- @include "stock-level"
--- @include "forecast"

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local s = load_sku(KEYS[1], ARGV[1])
forecast_settings(cjson.decode(ARGV[3]))
local now = math.floor(tonumber(ARGV[2]) / 1000)
local v, available, cover, horizon = forecast_figures(s, now)
local point, quantity, due = suggestion(s, v, available)
local view = {
  reserved = s.rv / VELOCITY_UNIT,
  sold = s.sv / VELOCITY_UNIT,
  demand = v,
  horizon = horizon,
  reorderPoint = point,
  quantity = quantity,
  due = due,
}
if cover then
  view.cover = cover
  if available > 0 then view.predictedAt = math.floor((now + cover * 3600) * 1000) end
end
return cjson.encode(view)
