-- Shared by the inventory scripts: sales velocity, predicted stock-outs and replenishment
-- suggestions, kept in the SKU's record (sku-record.ts) and changed in the same call as its
-- stock, so they are exactly-once like the stock itself. processors/inventory/forecast.ts
-- documents the rules; model.ts is their independent reference.
--
-- Velocity: rv (units reserved) and sv (units sold) per hour, in thousandths, exponentially
-- weighted in event time with half-life FORECAST.half_life seconds: each unit adds
-- ln 2 / half-life per second, and the sum decays by half every half-life. For a steady
-- stream that converges on the true rate. An event older than the last one counts as of the
-- last one (time never goes back).

local FORECAST = { half_life = 86400, margin_hours = 24, resuggest_after = 3600 }
local VELOCITY_UNIT = 1000
local LN2 = math.log(2)
local floor, ceil, sqrt, abs = math.floor, math.ceil, math.sqrt, math.abs

local function forecast_settings(fx)
  if fx then
    FORECAST.half_life = fx.h
    FORECAST.margin_hours = fx.m
    FORECAST.resuggest_after = fx.r
  end
end

-- Brings the velocities forward to t (whole seconds of event time). Without any, there is
-- nothing to bring forward: vt stays as it is (0 until the first sale, which keeps the
-- record of a SKU that never sold in its short form).
local function velocity_at(s, t)
  if t > s.vt and (s.rv > 0 or s.sv > 0) then
    local f = 2 ^ (-(t - s.vt) / FORECAST.half_life)
    s.rv = floor(s.rv * f + 0.5)
    s.sv = floor(s.sv * f + 0.5)
    s.vt = t
  end
end

-- q units reserved ('rv') or sold ('sv') at t. This and follow_forecast run for every line an
-- event changes, and a Lua call costs more than most of what they do: velocity_at is called
-- only when time moved on, so a line pays for it once.
local function count_demand(s, field, q, t)
  if t > s.vt then
    velocity_at(s, t)
    s.vt = t
  end
  s[field] = s[field] + floor(q * VELOCITY_UNIT * 3600 * LN2 / FORECAST.half_life + 0.5)
end

-- A prediction clears only once the cover is this much above the horizon, so that a SKU
-- hovering at the line does not alert on every event.
local CLEAR_FACTOR = 1.1

-- A suggestion is published again only when a figure moved by more than a tenth.
local function moved(new, old)
  if old == 0 then return new ~= 0 end
  local d = new - old
  if d < 0 then d = -d end
  return d > 1 and d > old * 0.1
end

-- The figures at t (seconds), with the velocities brought forward to t: demand per hour,
-- available, cover in hours (nil without demand) and the prediction's horizon (hours).
local function forecast_figures(s, t)
  velocity_at(s, t)
  local v = (s.rv > s.sv and s.rv or s.sv) / VELOCITY_UNIT
  local available = s.on - s.rs
  return v, available, v > 0 and available / v or nil, s.lt + FORECAST.margin_hours
end

-- The suggestion for demand v (units/h): reorder point, economic order quantity
-- sqrt(2 C_o D / H) with D per day (0 without demand), and whether available is at or below
-- the reorder point.
local function reorder_point(s, v)
  return ceil(v * s.lt + s.sf)
end

local function order_quantity(s, v)
  if v > 0 and s.hc > 0 then return ceil(sqrt(2 * (s.oc / 100) * (v * 24) / (s.hc / 1000000))) end
  return 0
end

local function suggestion(s, v, available)
  local point = reorder_point(s, v)
  return point, order_quantity(s, v), v > 0 and available <= point
end

-- After a change at t (seconds): the predicted stock-out and the replenishment suggestion.
-- s.risk records a prediction made (its time, ms) or cleared (false) for the caller's index.
-- A suggestion goes out when the SKU crosses its reorder point, or when a figure moved
-- materially and the last one is FORECAST.resuggest_after seconds old (s.rt: its time).
local function follow_forecast(s, sku, t, outputs)
  -- forecast_figures and has_flag written out (see count_demand); after count_demand the
  -- velocities are already at t
  if t > s.vt then velocity_at(s, t) end
  local rv, sv = s.rv, s.sv
  local v = (rv > sv and rv or sv) / VELOCITY_UNIT
  local on, rs, lt = s.on, s.rs, s.lt
  local available = on - rs
  local horizon = lt + FORECAST.margin_hours
  if s.fc % (2 * PREDICTED) < PREDICTED then
    -- already out: the OUT_OF_STOCK alert says it; nothing to predict
    if v > 0 and available > 0 and available / v < horizon then
      local cover = available / v
      set_flag(s, PREDICTED, true)
      local at = floor((t + cover * 3600) * 1000)
      s.risk = at
      outputs[#outputs + 1] = { k = 'alert', sku = sku, kind = 'STOCKOUT_PREDICTED', on = on, rs = rs,
        th = s.th, at = at, vel = v, lt = lt }
    end
  elseif available > 0 and (v <= 0 or available / v >= horizon * CLEAR_FACTOR) then
    set_flag(s, PREDICTED, false)
    s.risk = false
    outputs[#outputs + 1] = { k = 'alert', sku = sku, kind = 'STOCKOUT_CLEARED', on = on, rs = rs,
      th = s.th, vel = v, lt = lt }
  end

  -- no sales ever and nothing suggested: nothing to say
  if v == 0 and s.ro == 0 and s.rq == 0 then return end
  -- the crossing is decided by the reorder point alone, and the square root is only worth
  -- taking once a re-suggestion is allowed
  local point = reorder_point(s, v)
  local due = v > 0 and available <= point
  local was_due = s.fc % (2 * REORDER_DUE) >= REORDER_DUE
  if due == was_due and t - s.rt < FORECAST.resuggest_after then return end
  local quantity = order_quantity(s, v)
  if due ~= was_due or moved(point, s.ro) or moved(quantity, s.rq) then
    s.ro, s.rq, s.rt = point, quantity, t
    set_flag(s, REORDER_DUE, due)
    outputs[#outputs + 1] = { k = 'repl', sku = sku, ro = point, rq = quantity, due = due,
      on = on, rs = rs, sf = s.sf, vel = v, lt = lt, oc = s.oc, hc = s.hc }
  end
end
