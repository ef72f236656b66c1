--[[
  claim-pending-alerts: leases alerts queued by apply-catalogue that are due (not yet published,
  or leased by a drainer that did not acknowledge in time). The caller publishes them and then
  removes them (ZREM); a lease that runs out makes them due again.

  KEYS[1] {tag}:catalogue-alerts  zset: score = when due (ms), member = the alert as JSON
  ARGV[1] now (ms)   ARGV[2] lease (ms)   ARGV[3] most members to claim
  Returns the claimed members.
]]

local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], now + lease, member) end
return due
