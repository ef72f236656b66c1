-- Multi-member commands in groups: one HSET/ZADD/ZREM/HDEL/HMGET/ZMSCORE for many fields or members
-- instead of one call each (every call from a script has a fixed cost besides the command),
-- in groups because Lua's unpack() has a limit on how many values it spreads.

local GROUP = 512 -- even: field/value and score/member pairs never straddle two groups

-- redis.call(cmd, key, args[1], args[2], ...) in groups; nothing when args is empty
local function call_in_groups(cmd, key, args)
  for i = 1, #args, GROUP do
    redis.call(cmd, key, unpack(args, i, math.min(i + GROUP - 1, #args)))
  end
end

-- A multi-member read (HMGET key fields..., ZMSCORE key members...) in groups: one value per
-- field or member, in their order (false where there is none). ZMSCORE needs Redis 6.2+.
local function read_in_groups(cmd, key, fields)
  local values = {}
  for i = 1, #fields, GROUP do
    local got = redis.call(cmd, key, unpack(fields, i, math.min(i + GROUP - 1, #fields)))
    for j = 1, #got do values[#values + 1] = got[j] end
  end
  return values
end
