--[[
  archive-order: ends a stale order's life in Redis once its ORDER_STALE alert is published:
  its keys get the final TTL (it stays queryable that long) and it leaves the idle zset. An
  event that arrived since the claim moved its idle score: then nothing happens.

  KEYS[1] {tag}:o:<orderId>   KEYS[2] {tag}:h:<orderId>   KEYS[3] {tag}:e:<orderId>
  KEYS[4] {tag}:idle
  ARGV[1] orderId   ARGV[2] the lease end the claim set   ARGV[3] TTL seconds
  Returns 1 when archived.
]]
if tonumber(redis.call('ZSCORE', KEYS[4], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
