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

-- Flags of the record's fc field (PREDICTED, REORDER_DUE, SPLIT: generated with the record).
local function has_flag(s, flag)
  return s.fc % (2 * flag) >= flag
end

local function set_flag(s, flag, on)
  if has_flag(s, flag) ~= on then s.fc = on and s.fc + flag or s.fc - flag end
end

-- Stock per warehouse. A SKU whose stock is all in the default warehouse (every SKU of a shop
-- that sends no warehouse) keeps only its record; one stocked in other warehouses too has the
-- SPLIT flag and a second field of its bucket, '@<sku>' = "<warehouse>:<on>:<reserved>,..."
-- (the parts add up to the record's on and reserved). '@' starts no SKU, so the two never meet.
local DEFAULT_WAREHOUSE = 'default'

-- The SKU's parts: { names = { warehouse, ... }, by = { [warehouse] = { on =, rs = } } },
-- read once per call; without a split, the whole stock in the default warehouse.
local function split_of(key, sku, s)
  local split = s.split
  if split then return split end
  split = { names = {}, by = {} }
  if has_flag(s, SPLIT) then
    local raw = redis.call('HGET', key, '@' .. sku)
    if not raw then error('corrupt SKU record ' .. key .. ' ' .. sku .. ': split flag without its parts') end
    for w, on, rs in string.gmatch(raw, '([^,:]+):(%-?%d+):(%-?%d+)') do
      split.names[#split.names + 1] = w
      split.by[w] = { on = tonumber(on), rs = tonumber(rs) }
    end
  elseif s.on ~= 0 or s.rs ~= 0 then
    split.names[1] = DEFAULT_WAREHOUSE
    split.by[DEFAULT_WAREHOUSE] = { on = s.on, rs = s.rs }
  end
  s.split = split
  return split
end

-- Whether any of the SKU's stock is (or was) in a warehouse other than the default one.
local function has_parts(s)
  local split = s.split
  if not split then return has_flag(s, SPLIT) end
  local names = split.names
  return #names > 1 or (#names == 1 and names[1] ~= DEFAULT_WAREHOUSE)
end

-- "<warehouse>:<on>:<reserved>,..." in name order, or '' when all of it is in the default warehouse.
local function split_text(s)
  local split = s.split
  if not split or not has_parts(s) then return '' end
  local names = {}
  for i, w in ipairs(split.names) do names[i] = w end
  table.sort(names)
  local parts = {}
  for i, w in ipairs(names) do
    local e = split.by[w]
    parts[i] = w .. ':' .. string.format('%d:%d', e.on, e.rs)
  end
  return table.concat(parts, ',')
end

-- Moves a warehouse's part (the caller moves the totals). Stock only ever in the default
-- warehouse stays without parts.
local function warehouse_move(key, sku, s, w, d_on, d_rs)
  if w == DEFAULT_WAREHOUSE and not s.split and not has_flag(s, SPLIT) then return end
  local split = split_of(key, sku, s)
  local e = split.by[w]
  if not e then
    e = { on = 0, rs = 0 }
    split.by[w] = e
    split.names[#split.names + 1] = w
  end
  e.on = e.on + d_on
  e.rs = e.rs + d_rs
  s.split_changed = true
end

-- The SKU's parts for its changelog record, '' when all is in the default warehouse (read
-- once the call's writes are decided: the record and its parts as written).
local function level_parts(key, sku, s)
  if has_flag(s, SPLIT) then split_of(key, sku, s) end
  return split_text(s)
end

-- Writes the record and its parts; returns the record as written.
local function save_sku(key, sku, s)
  if s.split_changed then
    local text = split_text(s)
    if text == '' then
      if has_flag(s, SPLIT) then redis.call('HDEL', key, '@' .. sku) end
      set_flag(s, SPLIT, false)
    else
      redis.call('HSET', key, '@' .. sku, text)
      set_flag(s, SPLIT, true)
    end
  end
  local record = format_sku_record(s)
  redis.call('HSET', key, sku, record)
  return record
end
