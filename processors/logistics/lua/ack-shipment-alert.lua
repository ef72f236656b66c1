--[[
  ack-shipment-alert: records that a DELAYED or SILENT alert was published for a shipment, so
  it is raised once: sets the shipment's a_<KIND> flag and removes it from the kind's zset.

  KEYS[1] {tag}:s:<tracking>   KEYS[2] the kind's zset ({tag}:due:promised or {tag}:due:silent)
  ARGV[1] kind   ARGV[2] tracking number
]]
redis.call('HSET', KEYS[1], 'a_' .. ARGV[1], 1)
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
