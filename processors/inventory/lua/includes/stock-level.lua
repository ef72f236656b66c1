-- Shared by the inventory scripts: how a SKU's alert level follows its stock.
-- Levels: 0 fine, 1 low (available <= threshold), 2 out (available == 0), 3 shortage (< 0).
-- An alert fires once per crossing: on entering a worse level, and BACK_IN_STOCK when an
-- out-of-stock or short SKU becomes available again. Repeated events at one level stay silent.

local function stock_level(s)
  local available = s.on - s.rs
  if available < 0 then return 3 end
  if available == 0 then return 2 end
  if available <= s.th then return 1 end
  return 0
end

local LEVEL_ALERT = { [1] = 'LOW_STOCK', [2] = 'OUT_OF_STOCK', [3] = 'SHORTAGE' }

-- Appends an alert to `outputs` when the SKU crossed a level boundary, and records the level.
-- Level -1 marks a SKU that was never stocked: its first receipt is not "back" in stock.
local function follow_level(s, sku, outputs)
  local new = stock_level(s)
  local old = s.lv
  if new == old then return end
  if old == -1 and new == 2 then return end
  s.lv = new
  if old == -1 then old = 0 end
  local kind
  if new > old then
    kind = LEVEL_ALERT[new]
  elseif old >= 2 and new <= 1 then
    kind = 'BACK_IN_STOCK'
  end
  if kind then
    outputs[#outputs + 1] = { k = 'alert', sku = sku, kind = kind, on = s.on, rs = s.rs, th = s.th }
  end
end

-- SKU hash fields are one or two letters: at a million SKUs every byte of field name counts.
-- A field that is not a number is a corrupt record: the script stops before it writes anything
-- (the processor then dead-letters the event that touched it instead of guessing a figure).
local function sku_field(key, h, i, name)
  local v = h[i]
  if not v then return nil end
  local n = tonumber(v)
  if not n then error('corrupt SKU record ' .. key .. ': ' .. name .. ' is "' .. tostring(v) .. '"') end
  return n
end

local function load_sku(key)
  local h = redis.call('HMGET', key, 'on', 'rs', 'v', 'th', 'sf', 'cv', 'lv')
  local cv = sku_field(key, h, 6, 'cv')
  if cv and cv <= 0 then cv = nil end
  return {
    on = sku_field(key, h, 1, 'on') or 0,
    rs = sku_field(key, h, 2, 'rs') or 0,
    v = sku_field(key, h, 3, 'v') or 0,
    th = sku_field(key, h, 4, 'th') or 0,
    sf = sku_field(key, h, 5, 'sf') or 0,
    cv = cv,
    lv = sku_field(key, h, 7, 'lv') or 0,
  }
end

local function save_sku(key, s)
  redis.call('HSET', key, 'on', s.on, 'rs', s.rs, 'v', s.v, 'th', s.th, 'sf', s.sf, 'cv', s.cv or 0, 'lv', s.lv)
end
