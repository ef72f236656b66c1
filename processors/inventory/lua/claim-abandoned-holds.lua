--[[
  claim-abandoned-holds: orders whose stock has been held longer than the hold limit, leased to
  the caller, which publishes an EXPIRED order event for each ("abandon.<orderId>"): both the
  stock and the order processor apply it like any expiry, so a hold nobody releases (an order
  the order processor never saw reserved, an upstream that went silent) is given back once,
  with an alert, instead of being kept forever. The order leaves the zset when its hold ends.

  KEYS[1] {tag}:holds   zset: orderId by when the hold was made (ms)
  ARGV[1] cutoff (ms): holds made before it are abandoned   ARGV[2] lease (ms)   ARGV[3] limit
  Returns a flat list: orderId, heldSince, ...
]]

local cutoff, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #due, 2 do
  -- due again one lease later if the expiry does not take effect
  redis.call('ZADD', KEYS[1], cutoff + lease, due[i])
end
return due
