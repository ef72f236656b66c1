--[[
  apply-carrier-events: folds carrier events into shipment state per tracking number, atomically
  and idempotently. The folded status depends only on the SET of events seen, never on their
  arrival order, so shuffled and duplicated deliveries end in the same state:
  - a DELIVERED scan wins over every in-transit scan, whenever either arrives (never back from
    delivered to in transit); RETURNED wins when it is later than the delivery;
  - otherwise the latest event by the carrier's event time (ties: furthest along, then event id).
  The order follows its shipment: the first scan showing the parcel moved emits the order's
  SHIPPED event, a delivery its DELIVERED event, each once. Exceptions and lost parcels raise an
  alert once each; a delivery after any alert raises a clearing DELIVERED alert.

  KEYS      referenced from ARGV[1] by index; one {tag}:
            {tag}:s:<tracking>   hash: car, oid, st, pdl (promised delivery), la/lr/li/lt (latest
                                 in-transit event: time, rank, id, type), dla, rta (delivered /
                                 returned time), moved, f_ship, f_dlv, a_<KIND> (alerts raised)
            {tag}:t:<tracking>   zset timeline: score = carrier event time, member = event JSON
            {tag}:e:<tracking>   hash: event id -> stored outcome JSON (replayed on redelivery)
            {tag}:due:promised   zset: tracking by promised delivery time
            {tag}:due:silent     zset: tracking by when silence becomes an alert
  ARGV[1]   JSON { pz, sz = zset key indices, ev = [ { id, trk, car, oid, ty, at, loc, det, pdl,
            s, t, e = key indices } ] }
  ARGV[2]   now (ms)   ARGV[3] silence threshold (ms)   ARGV[4] TTL seconds once delivered/returned
  Returns JSON [ { id, st = 'ok'|'dup', out = [ output ] } ]; outputs:
            { k = 'status', from, to, at, id }  { k = 'order', ty = 'SHIPPED'|'DELIVERED', oid }
            { k = 'alert', kind }
]]

local input = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
local silence_ms = tonumber(ARGV[3])
local final_ttl = tonumber(ARGV[4])
local promised_z, silent_z = KEYS[input.pz], KEYS[input.sz]

local RANK = { LABEL_CREATED = 1, PICKED_UP = 2, IN_TRANSIT = 3, EXCEPTION = 3, OUT_FOR_DELIVERY = 4,
  LOST = 5, DELIVERED = 6, RETURNED = 7 }
local MOVED = { PICKED_UP = true, IN_TRANSIT = true, OUT_FOR_DELIVERY = true, DELIVERED = true }

local results = {}
for i, e in ipairs(input.ev) do
  local skey, tkey, ekey = KEYS[e.s], KEYS[e.t], KEYS[e.e]
  local stored = redis.call('HGET', ekey, e.id)
  if stored then
    local r = cjson.decode(stored)
    r.st = 'dup'
    results[i] = r
  else
    local out = {}
    local h = {}
    local flat = redis.call('HGETALL', skey)
    for j = 1, #flat, 2 do h[flat[j]] = flat[j + 1] end
    local before = h.st

    redis.call('ZADD', tkey, e.at, cjson.encode({ id = e.id, ty = e.ty, at = e.at, loc = e.loc, det = e.det }))
    if not h.car then redis.call('HSET', skey, 'car', e.car) end
    if e.oid and not h.oid then
      h.oid = e.oid
      redis.call('HSET', skey, 'oid', e.oid)
    end
    if e.pdl then
      h.pdl = tostring(e.pdl)
      redis.call('HSET', skey, 'pdl', e.pdl)
    end

    local at = tonumber(e.at)
    if e.ty == 'DELIVERED' then
      if not h.dla or at < tonumber(h.dla) then h.dla = tostring(at) end
      redis.call('HSET', skey, 'dla', h.dla)
    elseif e.ty == 'RETURNED' then
      if not h.rta or at > tonumber(h.rta) then h.rta = tostring(at) end
      redis.call('HSET', skey, 'rta', h.rta)
    else
      local la, lr = tonumber(h.la or '-1'), tonumber(h.lr or '0')
      local rank = RANK[e.ty]
      if at > la or (at == la and (rank > lr or (rank == lr and e.id > (h.li or '')))) then
        h.lt = e.ty
        redis.call('HSET', skey, 'la', at, 'lr', rank, 'li', e.id, 'lt', e.ty)
      end
    end
    if MOVED[e.ty] and not h.moved then
      h.moved = '1'
      redis.call('HSET', skey, 'moved', 1)
    end

    local status
    if h.rta and (not h.dla or tonumber(h.rta) >= tonumber(h.dla)) then status = 'RETURNED'
    elseif h.dla then status = 'DELIVERED'
    else status = h.lt end
    if status ~= before then
      redis.call('HSET', skey, 'st', status)
      out[#out + 1] = { k = 'status', from = before or cjson.null, to = status, at = at, id = e.id }
    end

    if h.oid and h.moved and not h.f_ship then
      redis.call('HSET', skey, 'f_ship', 1)
      out[#out + 1] = { k = 'order', ty = 'SHIPPED', oid = h.oid }
    end
    if h.oid and h.dla and not h.f_dlv then
      redis.call('HSET', skey, 'f_dlv', 1)
      out[#out + 1] = { k = 'order', ty = 'DELIVERED', oid = h.oid }
    end
    local final = status == 'DELIVERED' or status == 'RETURNED'
    if (e.ty == 'EXCEPTION' or e.ty == 'LOST') and not h['a_' .. e.ty] then
      h['a_' .. e.ty] = '1'
      redis.call('HSET', skey, 'a_' .. e.ty, 1)
      -- an exception that arrives after the delivery overtook it is recorded, not raised: the
      -- shipment ends with the same alerts whatever order the scans came in
      if final then
        h.a_DELIVERED = '1'
        redis.call('HSET', skey, 'a_DELIVERED', 1)
      else
        out[#out + 1] = { k = 'alert', kind = e.ty }
      end
    end

    if final then
      if (h.a_EXCEPTION or h.a_LOST or h.a_DELAYED or h.a_SILENT) and not h.a_DELIVERED then
        redis.call('HSET', skey, 'a_DELIVERED', 1)
        out[#out + 1] = { k = 'alert', kind = status }
      end
      redis.call('ZREM', promised_z, e.trk)
      redis.call('ZREM', silent_z, e.trk)
      redis.call('EXPIRE', skey, final_ttl)
      redis.call('EXPIRE', tkey, final_ttl)
      redis.call('EXPIRE', ekey, final_ttl)
    else
      if h.pdl and not h.a_DELAYED then redis.call('ZADD', promised_z, tonumber(h.pdl), e.trk) end
      if status == 'LOST' then
        redis.call('ZREM', silent_z, e.trk)
      elseif not h.a_SILENT then
        redis.call('ZADD', silent_z, now + silence_ms, e.trk)
      end
    end

    local r = { id = e.id, st = 'ok', out = out }
    redis.call('HSET', ekey, e.id, cjson.encode(r))
    results[i] = r
  end
end
return cjson.encode(results)
