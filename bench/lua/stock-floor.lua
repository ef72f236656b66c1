--[[
  stock-floor: NOT the product. The least Redis work a stock script could do for the benchmark's
  workload while keeping what the product must keep: per SKU touched one read and one write of a
  packed record (struct, no text parsing), one marker per stock event id, one record per order,
  one outbox member per chunk and its position. No changelog, holds index, alerts, tentative
  holds, replies beyond a count, or checks. bench/script-cost.ts measures it beside the real
  scripts on the same events: the floor under the Redis share of the CPU target.

  KEYS[1] outbox (zset)  KEYS[2] position (string)  KEYS[3..] SKU buckets, order keys, id buckets
  ARGV[1] JSON array of events, each a flat array:
          stock:  { 1, id, sku bucket idx, sku, q, id bucket idx }
          place:  { 2, id, order idx, n, (sku bucket idx, sku, q) * n }
          settle: { 3 = pay, 4 = cancel, id, order idx, n, (sku bucket idx, sku, q) * n }: the
                  lines as the caller read them, as the product's caller declares a held order's keys
  ARGV[2] the chunk's last offset
]]

local events = cjson.decode(ARGV[1])
local skus, sku_key, touched = {}, {}, {}
local function sku(idx, name)
  local s = skus[name]
  if not s then
    local raw = redis.call('HGET', KEYS[idx], name)
    if raw then
      local on, rs, v = struct.unpack('<iii', raw)
      s = { on, rs, v }
    else
      s = { 0, 0, 0 }
    end
    skus[name] = s
    sku_key[name] = idx
  end
  if not touched[name] then touched[#touched + 1] = name; touched[name] = true end
  return s
end

local orders, order_writes = {}, {}
local function order(idx)
  local o = orders[idx]
  if o == nil then
    o = redis.call('GET', KEYS[idx]) or false
    orders[idx] = o
  end
  return o
end

local ids = {}
local outcome = {}
for i, e in ipairs(events) do
  local t = e[1]
  if t == 1 then
    if redis.call('HEXISTS', KEYS[e[6]], e[2]) == 1 or ids[e[2]] then
      outcome[i] = 'd'
    else
      ids[e[2]] = e[6]
      local s = sku(e[3], e[4])
      s[1] = s[1] + e[5]
      s[3] = s[3] + 1
      outcome[i] = 'o'
    end
  elseif t == 2 then
    if order(e[3]) then
      outcome[i] = 'd'
    else
      local ok = true
      for j = 0, e[4] - 1 do
        local s = sku(e[5 + 3 * j], e[6 + 3 * j])
        if s[1] - s[2] < e[7 + 3 * j] then ok = false end
      end
      local lines = {}
      for j = 0, e[4] - 1 do
        local name, q = e[6 + 3 * j], e[7 + 3 * j]
        if ok then
          local s = skus[name]
          s[2] = s[2] + q
          s[3] = s[3] + 1
        end
        lines[#lines + 1] = name .. ':' .. q
      end
      local rec = (ok and 'R|' or 'X|') .. table.concat(lines, ',')
      orders[e[3]] = rec
      order_writes[#order_writes + 1] = e[3]
      outcome[i] = ok and 'r' or 'x'
    end
  else
    local rec = order(e[3])
    if not rec or string.sub(rec, 1, 1) ~= 'R' then
      outcome[i] = 's'
    else
      for j = 0, e[4] - 1 do
        local s = sku(e[5 + 3 * j], e[6 + 3 * j])
        local q = e[7 + 3 * j]
        s[2] = s[2] - q
        if t == 3 then s[1] = s[1] - q end
        s[3] = s[3] + 1
      end
      orders[e[3]] = (t == 3 and 'C|' or 'L|') .. string.sub(rec, 3)
      order_writes[#order_writes + 1] = e[3]
      outcome[i] = t == 3 and 'c' or 'l'
    end
  end
end

for _, name in ipairs(touched) do
  local s = skus[name]
  redis.call('HSET', KEYS[sku_key[name]], name, struct.pack('<iii', s[1], s[2], s[3]))
end
for _, idx in ipairs(order_writes) do redis.call('SET', KEYS[idx], orders[idx]) end
for id, idx in pairs(ids) do redis.call('HSET', KEYS[idx], id, '1') end
local up = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], up, table.concat(outcome))
redis.call('SET', KEYS[2], ARGV[2])
return #events
