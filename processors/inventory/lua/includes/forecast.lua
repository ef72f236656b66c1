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

local FORECAST = { half_life = 86400, margin_hours = 24 }
local VELOCITY_UNIT = 1000
local LN2 = math.log(2)

local function forecast_settings(fx)
  if fx then
    FORECAST.half_life = fx.h
    FORECAST.margin_hours = fx.m
  end
end

local function round(x)
  return math.floor(x + 0.5)
end

-- Brings the velocities forward to t (whole seconds of event time).
local function velocity_at(s, t)
  if t > s.vt then
    if s.rv > 0 or s.sv > 0 then
      local f = 2 ^ (-(t - s.vt) / FORECAST.half_life)
      s.rv = round(s.rv * f)
      s.sv = round(s.sv * f)
    end
    s.vt = t
  end
end

-- q units reserved ('rv') or sold ('sv') at t.
local function count_demand(s, field, q, t)
  velocity_at(s, t)
  s[field] = s[field] + round(q * VELOCITY_UNIT * 3600 * LN2 / FORECAST.half_life)
end

-- What a prediction reads: the faster of the two rates, units per hour.
local function demand_per_hour(s)
  return (s.rv > s.sv and s.rv or s.sv) / VELOCITY_UNIT
end

-- A prediction clears only once the cover is this much above the horizon, so that a SKU
-- hovering at the line does not alert on every event.
local CLEAR_FACTOR = 1.1

-- A suggestion is published again only when a figure moved by more than a tenth.
local function moved(new, old)
  if old == 0 then return new ~= 0 end
  return math.abs(new - old) > math.max(1, old * 0.1)
end

-- The figures at t (seconds), with the velocities brought forward to t: demand per hour,
-- cover in hours (nil without demand), the prediction's horizon, the reorder point, the
-- suggested quantity and whether available is at or below the reorder point.
local function forecast_figures(s, t)
  velocity_at(s, t)
  local v = demand_per_hour(s)
  local available = s.on - s.rs
  local f = { v = v, available = available, horizon = s.lt + FORECAST.margin_hours }
  if v > 0 then f.cover = available / v end
  f.reorder_point = math.ceil(v * s.lt + s.sf)
  f.quantity = 0
  if v > 0 and s.hc > 0 then
    -- economic order quantity sqrt(2 C_o D / H), D per day
    f.quantity = math.ceil(math.sqrt(2 * (s.oc / 100) * (v * 24) / (s.hc / 1000000)))
  end
  f.due = v > 0 and available <= f.reorder_point
  return f
end

-- After a change at t (seconds): the predicted stock-out and the replenishment suggestion.
local function follow_forecast(s, sku, t, outputs)
  local f = forecast_figures(s, t)
  local v, available, cover = f.v, f.available, f.cover
  if not has_flag(s, PREDICTED) then
    -- already out: the OUT_OF_STOCK alert says it; nothing to predict
    if cover and available > 0 and cover < f.horizon then
      set_flag(s, PREDICTED, true)
      outputs[#outputs + 1] = { k = 'alert', sku = sku, kind = 'STOCKOUT_PREDICTED', on = s.on, rs = s.rs,
        th = s.th, at = math.floor((t + cover * 3600) * 1000), vel = v, lt = s.lt }
    end
  elseif available > 0 and (not cover or cover >= f.horizon * CLEAR_FACTOR) then
    set_flag(s, PREDICTED, false)
    outputs[#outputs + 1] = { k = 'alert', sku = sku, kind = 'STOCKOUT_CLEARED', on = s.on, rs = s.rs,
      th = s.th, vel = v, lt = s.lt }
  end

  -- no sales ever and nothing suggested: nothing to say
  if v == 0 and s.ro == 0 and s.rq == 0 then return end
  if moved(f.reorder_point, s.ro) or moved(f.quantity, s.rq) or f.due ~= has_flag(s, REORDER_DUE) then
    s.ro, s.rq = f.reorder_point, f.quantity
    set_flag(s, REORDER_DUE, f.due)
    outputs[#outputs + 1] = { k = 'repl', sku = sku, ro = f.reorder_point, rq = f.quantity, due = f.due,
      on = s.on, rs = s.rs, sf = s.sf, vel = v, lt = s.lt, oc = s.oc, hc = s.hc }
  end
end
