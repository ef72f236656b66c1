--[[
  claim-due-expiries: orders whose payment deadline has passed, claimed for a lease so that one
  sweeper (of however many processor instances) publishes their EXPIRED event. The deadline
  entry stays until the EXPIRED event is applied (apply-order-events removes it on leaving
  RESERVED); if the sweeper dies before publishing, the lease runs out and another claims it.

  KEYS[1]   {tag}:deadlines  zset: orderId by deadline (ms)
  ARGV[1]   now (ms)   ARGV[2] most to claim   ARGV[3] lease (ms)
  Returns   flat list: orderId, original deadline, orderId, deadline, ...
]]
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), due[i])
end
return due
