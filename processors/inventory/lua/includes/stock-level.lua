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

-- A SKU's record is one field of a bucket hash (the key the caller computed for it; many SKUs
-- share a bucket, so Redis keeps it as a compact listpack). Its format comes from sku-record.ts.
-- A record that does not parse is corrupt: the script stops before it writes anything (the
-- processor then dead-letters the event that touched it instead of guessing a figure).
--- @generated "sku-record"

local function load_sku(key, sku)
  local raw = redis.call('HGET', key, sku)
  if not raw then return { on = 0, rs = 0, v = 0, th = 0, sf = 0, cv = nil, lv = 0 } end
  local s = parse_sku_record(raw)
  if not s then error('corrupt SKU record ' .. key .. ' ' .. sku .. ': "' .. raw .. '"') end
  if s.cv <= 0 then s.cv = nil end
  return s
end

-- Only the version, for an acknowledgement: the same check of the record, no table built.
local function load_sku_version(key, sku)
  local raw = redis.call('HGET', key, sku)
  if not raw then return 0 end
  local v = parse_sku_version(raw)
  if not v then error('corrupt SKU record ' .. key .. ' ' .. sku .. ': "' .. raw .. '"') end
  return v
end

local function save_sku(key, sku, s)
  redis.call('HSET', key, sku, format_sku_record(s))
end
