-- Multi-member commands in groups: one HSET/ZADD/ZREM/HDEL/HMGET for many fields or members
-- instead of one call each (a call from a script costs several times the command's own work),
-- in groups because Lua's unpack() has a limit on how many values it spreads.

local GROUP = 512 -- even: field/value and score/member pairs never straddle two groups

-- redis.call(cmd, key, args[1], args[2], ...) in groups; nothing when args is empty
local function call_in_groups(cmd, key, args)
  for i = 1, #args, GROUP do
    redis.call(cmd, key, unpack(args, i, math.min(i + GROUP - 1, #args)))
  end
end

-- HMGET key fields..., in groups; values in the order of `fields` (false for a missing field)
local function hmget_in_groups(key, fields)
  local values = {}
  for i = 1, #fields, GROUP do
    local got = redis.call('HMGET', key, unpack(fields, i, math.min(i + GROUP - 1, #fields)))
    for j = 1, #got do values[#values + 1] = got[j] end
  end
  return values
end

-- ZMSCORE key members..., in groups (Redis 6.2+); false for a member not in the set
local function zmscore_in_groups(key, members)
  local values = {}
  for i = 1, #members, GROUP do
    local got = redis.call('ZMSCORE', key, unpack(members, i, math.min(i + GROUP - 1, #members)))
    for j = 1, #got do values[#values + 1] = got[j] end
  end
  return values
end
