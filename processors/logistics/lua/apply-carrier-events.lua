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

  Check before write: every shipment touched is read first, the call decides in Lua tables and
  writes at the end, so an error while deciding leaves nothing written. Each chunk's partition
  position is recorded in the same call.

  KEYS      referenced from ARGV[1] by index; one {tag}:
            {tag}:s:<tracking>   hash: car, oid, st, pdl (promised delivery), la/lr/li/lt (latest
                                 in-transit event: time, rank, id, type), dla, rta (delivered /
                                 returned time), moved, f_ship, f_dlv, a_<KIND> (alerts raised)
            {tag}:t:<tracking>   zset timeline: score = carrier event time, member = event JSON,
                                 the latest ARGV[6] kept
            {tag}:e:<tracking>   hash: event id -> stored outcome JSON (replayed on redelivery), at
                                 most ARGV[7] per shipment
            {tag}:due:promised   zset: tracking by promised delivery time
            {tag}:due:silent     zset: tracking by when silence becomes an alert
            {tag}:due:close      zset: tracking by when a shipment nothing moves is closed
            {tag}:wm:<topic>:<partition>  a partition's applied position
  ARGV[1]   JSON { pz, sz, cz = zset key indices, wm = [ { k, up, ex } ], ev = [ { id, trk, car, oid,
            ty, at, loc, det, pdl, s, t, e = key indices } ] }
  ARGV[2]   now (ms)   ARGV[3] silence threshold (ms)   ARGV[4] TTL seconds once delivered/returned
  ARGV[5]   ms without an event after which an unfinished shipment is closed
  ARGV[6]   timeline entries kept per shipment   ARGV[7] events stored per shipment
  Returns JSON [ { id, st = 'ok'|'dup'|'dlq', why, out = [ output ] } ]; outputs:
            { k = 'status', from, to, at, id }  { k = 'order', ty = 'SHIPPED'|'DELIVERED', oid }
            { k = 'alert', kind }
]]

--- @include "partition-positions"

local input = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
local silence_ms = tonumber(ARGV[3])
local final_ttl = tonumber(ARGV[4])
local close_ms = tonumber(ARGV[5])
local timeline_cap = tonumber(ARGV[6])
local max_events = tonumber(ARGV[7])
local promised_z, silent_z, close_z = KEYS[input.pz], KEYS[input.sz], KEYS[input.cz]

local RANK = { LABEL_CREATED = 1, PICKED_UP = 2, IN_TRANSIT = 3, EXCEPTION = 3, OUT_FOR_DELIVERY = 4,
  LOST = 5, DELIVERED = 6, RETURNED = 7 }
local MOVED = { PICKED_UP = true, IN_TRANSIT = true, OUT_FOR_DELIVERY = true, DELIVERED = true }

-- Read phase, which also proves every key we write has the type we expect.
redis.call('ZCARD', promised_z)
redis.call('ZCARD', silent_z)
redis.call('ZCARD', close_z)
local positions = read_positions(input.wm)
local went_back = positions_went_back(input.wm, positions)
if went_back then return went_back end

local shipments, shipment_list = {}, {}
local function load(e)
  local sh = shipments[e.s]
  if not sh then
    local h = {}
    local flat = redis.call('HGETALL', KEYS[e.s])
    for j = 1, #flat, 2 do h[flat[j]] = flat[j + 1] end
    redis.call('ZCARD', KEYS[e.t])
    sh = { trk = e.trk, skey = KEYS[e.s], tkey = KEYS[e.t], ekey = KEYS[e.e], h = h, set = {},
      timeline = {}, outcomes = {}, nevents = redis.call('HLEN', KEYS[e.e]), touched = false }
    shipments[e.s] = sh
    shipment_list[#shipment_list + 1] = sh
  end
  return sh
end
local function hset(sh, field, value)
  sh.h[field] = tostring(value)
  sh.set[field] = true
end

local results = {}
for i, e in ipairs(input.ev) do
  local sh = load(e)
  local h = sh.h
  local stored = sh.outcomes[e.id] or redis.call('HGET', sh.ekey, e.id)
  if stored then
    local r = cjson.decode(stored)
    r.st = 'dup'
    results[i] = r
  elseif sh.nevents >= max_events then
    results[i] = { id = e.id, st = 'dlq', why = 'TOO_MANY_EVENTS', out = {} }
  else
    local out = {}
    local before = h.st

    sh.timeline[#sh.timeline + 1] = { e.at, cjson.encode({ id = e.id, ty = e.ty, at = e.at, loc = e.loc, det = e.det }) }
    if not h.car then hset(sh, 'car', e.car) end
    if e.oid and not h.oid then hset(sh, 'oid', e.oid) end
    if e.pdl then hset(sh, 'pdl', e.pdl) end

    local at = tonumber(e.at)
    if e.ty == 'DELIVERED' then
      if not h.dla or at < tonumber(h.dla) then hset(sh, 'dla', at) end
    elseif e.ty == 'RETURNED' then
      if not h.rta or at > tonumber(h.rta) then hset(sh, 'rta', at) end
    else
      local la, lr = tonumber(h.la or '-1'), tonumber(h.lr or '0')
      local rank = RANK[e.ty]
      if at > la or (at == la and (rank > lr or (rank == lr and e.id > (h.li or '')))) then
        hset(sh, 'la', at)
        hset(sh, 'lr', rank)
        hset(sh, 'li', e.id)
        hset(sh, 'lt', e.ty)
      end
    end
    if MOVED[e.ty] and not h.moved then hset(sh, 'moved', 1) end

    local status
    if h.rta and (not h.dla or tonumber(h.rta) >= tonumber(h.dla)) then status = 'RETURNED'
    elseif h.dla then status = 'DELIVERED'
    else status = h.lt end
    if status ~= before then
      hset(sh, 'st', status)
      out[#out + 1] = { k = 'status', from = before or cjson.null, to = status, at = at, id = e.id }
    end

    if h.oid and h.moved and not h.f_ship then
      hset(sh, 'f_ship', 1)
      out[#out + 1] = { k = 'order', ty = 'SHIPPED', oid = h.oid }
    end
    if h.oid and h.dla and not h.f_dlv then
      hset(sh, 'f_dlv', 1)
      out[#out + 1] = { k = 'order', ty = 'DELIVERED', oid = h.oid }
    end
    local final = status == 'DELIVERED' or status == 'RETURNED'
    if (e.ty == 'EXCEPTION' or e.ty == 'LOST') and not h['a_' .. e.ty] then
      hset(sh, 'a_' .. e.ty, 1)
      -- an exception that arrives after the delivery overtook it is recorded, not raised: the
      -- shipment ends with the same alerts whatever order the scans came in
      if final then
        hset(sh, 'a_DELIVERED', 1)
      else
        out[#out + 1] = { k = 'alert', kind = e.ty }
      end
    end
    if final and (h.a_EXCEPTION or h.a_LOST or h.a_DELAYED or h.a_SILENT) and not h.a_DELIVERED then
      hset(sh, 'a_DELIVERED', 1)
      out[#out + 1] = { k = 'alert', kind = status }
    end

    local r = { id = e.id, st = 'ok', out = out }
    sh.outcomes[e.id] = cjson.encode(r)
    sh.nevents = sh.nevents + 1
    sh.touched = true
    results[i] = r
  end
end

-- Write phase.
for _, sh in ipairs(shipment_list) do
  if sh.touched then
    local h = sh.h
    local fields = {}
    for field in pairs(sh.set) do
      fields[#fields + 1] = field
      fields[#fields + 1] = h[field]
    end
    if #fields > 0 then redis.call('HSET', sh.skey, unpack(fields)) end
    for _, entry in ipairs(sh.timeline) do redis.call('ZADD', sh.tkey, entry[1], entry[2]) end
    redis.call('ZREMRANGEBYRANK', sh.tkey, 0, -(timeline_cap + 1))
    for id, outcome in pairs(sh.outcomes) do redis.call('HSET', sh.ekey, id, outcome) end
    if h.st == 'DELIVERED' or h.st == 'RETURNED' then
      redis.call('ZREM', promised_z, sh.trk)
      redis.call('ZREM', silent_z, sh.trk)
      redis.call('ZREM', close_z, sh.trk)
      redis.call('EXPIRE', sh.skey, final_ttl)
      redis.call('EXPIRE', sh.tkey, final_ttl)
      redis.call('EXPIRE', sh.ekey, final_ttl)
    else
      if h.pdl and not h.a_DELAYED then redis.call('ZADD', promised_z, tonumber(h.pdl), sh.trk) end
      if h.st == 'LOST' then
        redis.call('ZREM', silent_z, sh.trk)
      elseif not h.a_SILENT then
        redis.call('ZADD', silent_z, now + silence_ms, sh.trk)
      end
      -- lost or silent shipments are not kept forever: closed when nothing moves them
      redis.call('ZADD', close_z, now + close_ms, sh.trk)
    end
  end
end
write_positions(positions)
return cjson.encode(results)
