--[[
  apply-order-events: folds order events and reservation results into per-order state, in one
  atomic call per set of chunks. The transition table is generated from
  processors/orders/transitions.ts (the one source, which the exhaustive test checks this
  script against).

  Check before write: every order touched is read into Lua tables first, the call decides
  everything there, and writes only at the end. An error while deciding leaves nothing written.

  Idempotent: every event id's outcome is stored on its order; a redelivered or re-sent event
  returns that stored outcome (st = 'dup', with the transitions it made) so the caller can
  publish them again under the same deterministic transition ids, and changes nothing. Each
  chunk's partition position (its last offset) is recorded in the same call: the processor
  resumes from it when Redis and the group's committed offset disagree.

  KEYS      referenced from ARGV[1] by index; all share one {tag} (one Redis Cluster slot):
            {tag}:o:<orderId>   hash: st (state), n (transitions so far), dl (payment deadline ms),
                                pq (events waiting for the reservation, or kept while rejected, JSON), trk, car
            {tag}:h:<orderId>   list of transitions, JSON, oldest first (the CLI's history)
            {tag}:e:<orderId>   hash: event id -> stored outcome JSON (at most ARGV[6] per order)
            {tag}:deadlines     zset: orderId by payment deadline (ms)
            {tag}:idle          zset: orderId by when it turns stale (orders placed, paid or
                                shipped that no event moves on; the stale sweeper archives them)
            {tag}:wm:<topic>:<partition>  a partition's applied position
  ARGV[1]   JSON { dz = <deadlines idx>, iz = <idle idx>, wm = [ { k = <idx>, up = <offset>, ex = <offset applied before (optional)> } ],
            ev = [ { id, oid, c = cause, at = occurredAt, o, h, e = key indices, trk, car,
            why = free-text reason, src = '<topic>:<partition>:<offset>' of its message (optional) } ] }
  ARGV[2]   now (ms): transition time
  ARGV[3]   payment deadline after reservation (ms)
  ARGV[4]   TTL seconds of a final order's keys
  ARGV[5]   ms without an event after which a placed, paid or shipped order is stale
  ARGV[6]   most events stored per order; later ones are refused (TOO_MANY_EVENTS)

  Returns JSON [ { id, st = 'ok'|'noop'|'defer'|'flag'|'dlq'|'dup', why, tr = [ transition ],
  alerts = [ { kind, src } ] } ] in input order; a transition is { n, from, to, cause, src, at,
  why }; an alert names an anomaly (SHIPPED_UNPAID, PAID_CANCELLED, ...) and the event behind it.
]]

--- @include "partition-positions"

--- @generated "order-transitions"

local input = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
local deadline_ms = tonumber(ARGV[3])
local final_ttl = tonumber(ARGV[4])
local stale_ms = tonumber(ARGV[5])
local max_events = tonumber(ARGV[6])
local deadlines, idle = KEYS[input.dz], KEYS[input.iz]

-- Read phase, which also proves every key we write has the type we expect.
redis.call('ZCARD', deadlines)
redis.call('ZCARD', idle)
local positions = read_positions(input.wm)
local went_back = positions_went_back(input.wm, positions)
if went_back then return went_back end

local function split(s, sep)
  local out = {}
  for part in string.gmatch(s, '[^' .. sep .. ']+') do out[#out + 1] = part end
  return out
end

local orders, order_list = {}, {}
local function load(e)
  local o = orders[e.o]
  if not o then
    local h = {}
    local flat = redis.call('HGETALL', KEYS[e.o])
    for j = 1, #flat, 2 do h[flat[j]] = flat[j + 1] end
    redis.call('LLEN', KEYS[e.h])
    o = {
      oid = e.oid, okey = KEYS[e.o], hkey = KEYS[e.h], ekey = KEYS[e.e],
      h = h, set = {}, del = {}, hist = {}, outcomes = {},
      nevents = redis.call('HLEN', KEYS[e.e]), deadline = nil, touched = false,
    }
    orders[e.o] = o
    order_list[#order_list + 1] = o
  end
  return o
end
local function hset(o, field, value)
  o.h[field] = value
  o.set[field] = true
  o.del[field] = nil
end
local function hdel(o, field)
  if o.h[field] ~= nil then
    o.h[field] = nil
    o.set[field] = nil
    o.del[field] = true
  end
end

local results = {}
for i, e in ipairs(input.ev) do
  local o = load(e)
  local stored = o.outcomes[e.id] or redis.call('HGET', o.ekey, e.id)
  local prev = stored and cjson.decode(stored)
  -- An event dead-lettered because its order did not exist yet (it overtook its PLACED) is
  -- decided again when another message brings it (an upstream re-send, a redrive) and the order
  -- exists by then: the stock processor, idempotent per offset, decides such a message on the
  -- order's state too, so both give the order one fate. The same message again (a redelivery)
  -- replays what it did.
  local again = prev and e.src and o.h.st and prev.st == 'dlq' and prev.why == 'ORDER_UNKNOWN'
    and prev.src and prev.src ~= e.src
  if prev and not again then
    local r = prev
    r.st_first = r.st
    r.st = 'dup'
    results[i] = r
  elseif not again and o.nevents >= max_events then
    results[i] = { id = e.id, st = 'dlq', why = 'TOO_MANY_EVENTS', tr = {} }
  else
    local r = { id = e.id, tr = {}, alerts = {} }
    local function transition(to, cause, src, why)
      local n = tonumber(o.h.n or '0') + 1
      hset(o, 'n', tostring(n))
      local t = { n = n, from = o.h.st or cjson.null, to = to, cause = cause, src = src, at = now,
        why = why or cjson.null }
      hset(o, 'st', to)
      o.hist[#o.hist + 1] = cjson.encode(t)
      r.tr[#r.tr + 1] = t
      if to == 'RESERVED' then
        hset(o, 'dl', tostring(now + deadline_ms))
        o.deadline = now + deadline_ms
      else
        hdel(o, 'dl')
        o.deadline = false
      end
    end
    local function apply(to_list, cause, src, why, trk, car)
      for _, to in ipairs(split(to_list, ',')) do transition(to, cause, src, why) end
      if trk then
        hset(o, 'trk', trk)
        hset(o, 'car', car or '')
      end
    end

    local state = o.h.st or 'NONE'
    local rule = T[state][e.c]
    -- what arrives while events wait for the reservation waits behind them, so nothing that
    -- followed a waiting payment on the order topic overtakes it (a cancellation after a
    -- payment is a refund, not a payment after a cancellation)
    local queue = cjson.decode(o.h.pq or '[]')
    if state == 'PLACED' and #queue > 0 and
      (e.c == 'SHIPPED' or e.c == 'DELIVERED' or e.c == 'PAID' or e.c == 'CANCELLED') then
      rule = T.PLACED.PAID
    end
    local kind = rule[1]
    -- A rejected order's payment, shipment, delivery or cancellation changes nothing now, but
    -- it happened: it is kept, so that should a correction grant the reservation after all
    -- (Redis lost writes and the stock was decided again), it replays from RESERVED and the
    -- order ends where the goods and the money are. Bounded by the events an order may have.
    if state == 'REJECTED' and (e.c == 'PAID' or e.c == 'SHIPPED' or e.c == 'DELIVERED' or e.c == 'CANCELLED') then
      queue[#queue + 1] = { id = e.id, c = e.c, trk = e.trk, car = e.car, why = e.why }
      hset(o, 'pq', cjson.encode(queue))
    end
    if kind == 'n' then
      r.st = 'noop'
      r.why = state == 'NONE' and 'UNKNOWN' or ('ALREADY_' .. state)
    elseif kind == 'd' then
      r.st = 'defer'
      r.why = 'WAITING_FOR_RESERVATION'
      queue[#queue + 1] = { id = e.id, c = e.c, trk = e.trk, car = e.car, why = e.why }
      hset(o, 'pq', cjson.encode(queue))
    elseif kind == 'x' then
      r.st = 'dlq'
      r.why = rule[2]
      r.src = e.src
    elseif kind == 'f' then
      r.st = 'flag'
      r.why = rule[3]
      r.alerts[#r.alerts + 1] = { kind = rule[3], src = e.id }
    else
      r.st = 'ok'
      apply(rule[2], e.c, e.id, e.why, e.trk, e.car)
      if rule[3] then r.alerts[#r.alerts + 1] = { kind = rule[3], src = e.id } end
      -- the reservation (or a cancellation) decided: replay what waited, through the same table;
      -- an anomaly or a refusal of the order's new state becomes an alert
      local now_state = o.h.st
      if #queue > 0 and now_state ~= 'PLACED' then
        hdel(o, 'pq')
        local kept = {}
        for _, q in ipairs(queue) do
          -- met while rejected: kept again, as above
          if now_state == 'REJECTED' then kept[#kept + 1] = q end
          local qrule = T[now_state][q.c]
          if qrule[1] == 'm' then
            apply(qrule[2], q.c, q.id, q.why, q.trk, q.car)
            if qrule[3] then r.alerts[#r.alerts + 1] = { kind = qrule[3], src = q.id } end
            now_state = o.h.st
          elseif qrule[1] == 'f' then
            r.alerts[#r.alerts + 1] = { kind = qrule[3], src = q.id }
          elseif qrule[1] == 'x' then
            r.alerts[#r.alerts + 1] = { kind = q.c .. '_' .. now_state, src = q.id }
          end
        end
        if #kept > 0 then hset(o, 'pq', cjson.encode(kept)) end
      end
    end
    if #r.alerts == 0 then r.alerts = nil end
    o.outcomes[e.id] = cjson.encode(r)
    -- a decision taken again replaces the stored one: no new entry
    if not again then o.nevents = o.nevents + 1 end
    o.touched = true
    results[i] = r
  end
end

-- Write phase.
for _, o in ipairs(order_list) do
  if o.touched then
    local fields = {}
    for field in pairs(o.set) do
      fields[#fields + 1] = field
      fields[#fields + 1] = o.h[field]
    end
    if #fields > 0 then redis.call('HSET', o.okey, unpack(fields)) end
    for field in pairs(o.del) do redis.call('HDEL', o.okey, field) end
    if #o.hist > 0 then redis.call('RPUSH', o.hkey, unpack(o.hist)) end
    for id, outcome in pairs(o.outcomes) do redis.call('HSET', o.ekey, id, outcome) end
    if o.deadline then
      redis.call('ZADD', deadlines, o.deadline, o.oid)
    elseif o.deadline == false then
      redis.call('ZREM', deadlines, o.oid)
    end
    local st = o.h.st
    if not st then
      -- outcomes for an order never seen (dead-lettered) must not outlive the re-send window
      redis.call('EXPIRE', o.ekey, final_ttl)
    elseif FINAL[st] then
      redis.call('EXPIRE', o.okey, final_ttl)
      redis.call('EXPIRE', o.hkey, final_ttl)
      redis.call('EXPIRE', o.ekey, final_ttl)
      redis.call('ZREM', idle, o.oid)
    elseif st == 'RESERVED' then
      -- its payment deadline bounds it
      redis.call('ZREM', idle, o.oid)
    else
      redis.call('ZADD', idle, now + stale_ms, o.oid)
    end
  end
end
write_positions(positions)
return cjson.encode(results)
