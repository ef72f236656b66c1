--[[
  close-shipment: ends the life in Redis of a shipment nothing moved for the close time (lost,
  silent, abandoned by the carrier), once its CLOSED alert is published: its keys get the final
  TTL and it leaves every due zset. A carrier event since the claim moved its close time: then
  nothing happens.

  KEYS[1] {tag}:s:<tracking>  KEYS[2] {tag}:t:<tracking>  KEYS[3] {tag}:e:<tracking>
  KEYS[4] {tag}:due:promised  KEYS[5] {tag}:due:silent    KEYS[6] {tag}:due:close
  ARGV[1] tracking number   ARGV[2] the lease end the claim set   ARGV[3] TTL seconds
  Returns 1 when closed.
]]
if tonumber(redis.call('ZSCORE', KEYS[6], ARGV[1]) or '-1') ~= tonumber(ARGV[2]) then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'a_CLOSED', 1)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
return 1
