-- Shared by the order and shipment scripts: each chunk's input-partition position (its last
-- offset), read before anything is decided and written in the same call as the state, so Redis
-- knows where every partition resumes.

-- [{ k = <key idx>, up = <offset>, ex = <offset applied before, optional> }] -> { key, new offset,
-- current offset } (the GET also proves the key holds a string before anything is written)
local function read_positions(list)
  local positions = {}
  for _, w in ipairs(list) do
    positions[#positions + 1] = { KEYS[w.k], w.up, tonumber(redis.call('GET', KEYS[w.k]) or '-1') }
  end
  return positions
end

-- positions only move forward
local function write_positions(positions)
  for _, p in ipairs(positions) do
    if p[2] > p[3] then redis.call('SET', p[1], string.format('%d', p[2])) end
  end
end

-- A position below what the caller applied before (`ex`) means Redis lost writes (a failover to
-- a replica without them): deciding on that state would decide on a past that is gone. Returns
-- the JSON reply that refuses the call, naming each such position's index in `list` and where
-- it stands, or nil when every position is where the caller left it.
local function positions_went_back(list, positions)
  local lost = {}
  for i, w in ipairs(list) do
    if w.ex and positions[i][3] < w.ex then lost[#lost + 1] = { i, positions[i][3] } end
  end
  if #lost == 0 then return nil end
  return cjson.encode({ lost = lost })
end
