--[[
  claim-due-shipments: shipments past their promised delivery time, silent for too long, or to
  be closed (nothing moved them for the close time), leased to one watcher so several instances
  do not all alert. An entry leaves its zset only when its alert is recorded as raised
  (ack-shipment-alert, close-shipment); a watcher that dies before that loses its lease and
  another raises it (with the same deterministic alert id).

  KEYS[1] {tag}:due:promised   KEYS[2] {tag}:due:silent   KEYS[3] {tag}:due:close
  ARGV[1] now (ms)   ARGV[2] most to claim per kind   ARGV[3] lease (ms)
  Returns flat list: kind ('DELAYED'|'SILENT'|'CLOSED'), tracking number, ...
]]
local now, limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
local kinds = { { KEYS[1], 'DELAYED' }, { KEYS[2], 'SILENT' }, { KEYS[3], 'CLOSED' } }
for _, kz in ipairs(kinds) do
  local due = redis.call('ZRANGEBYSCORE', kz[1], '-inf', now, 'LIMIT', 0, limit)
  for _, trk in ipairs(due) do
    redis.call('ZADD', kz[1], now + lease, trk)
    out[#out + 1] = kz[2]
    out[#out + 1] = trk
  end
end
return out
