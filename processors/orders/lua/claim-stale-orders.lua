--[[
  claim-stale-orders: orders that no event moved on for the stale time (placed and never
  decided, paid and never shipped, shipped and never delivered), leased to the caller. The
  caller raises an ORDER_STALE alert for each and then archives it (archive-order.lua), which
  only happens if no event touched the order since the claim.

  KEYS[1]   {tag}:idle  zset: orderId by when it turns stale (ms)
  ARGV[1]   now (ms)   ARGV[2] most to claim   ARGV[3] lease (ms)
  Returns   flat list: orderId, when it turned stale, lease end, ...
]]
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], now + lease, due[i])
  out[#out + 1] = due[i]
  out[#out + 1] = due[i + 1]
  out[#out + 1] = string.format('%d', now + lease)
end
return out
