--[[
  apply-order-events: folds order events and reservation results into per-order state, in one
  atomic call per chunk. The transition table mirrors processors/orders/transitions.ts (the
  specification the exhaustive test checks this script against).

  Idempotent: every event id's outcome is stored on its order; a redelivered or re-sent event
  returns that stored outcome (st = 'dup', with the transitions it made) so the caller can
  publish them again under the same deterministic transition ids, and changes nothing.

  KEYS      referenced from ARGV[1] by index; all share one {tag} (one Redis Cluster slot):
            {tag}:o:<orderId>   hash: st (state), n (transitions so far), dl (payment deadline ms),
                                pq (events waiting for the reservation, JSON), trk, car
            {tag}:h:<orderId>   list of transitions, JSON, oldest first (the CLI's history)
            {tag}:e:<orderId>   hash: event id -> stored outcome JSON
            {tag}:deadlines     zset: orderId by payment deadline (ms)
  ARGV[1]   JSON { dz = <deadlines key idx>, ev = [ { id, oid, c = cause, at = occurredAt,
            o, h, e = key indices, trk, car, why = free-text reason } ] }
  ARGV[2]   now (ms): transition time
  ARGV[3]   payment deadline after reservation (ms)
  ARGV[4]   TTL seconds of a final order's keys

  Returns JSON [ { id, st = 'ok'|'noop'|'defer'|'dlq'|'dup', why, tr = [ transition ],
  alerts = [ { kind, src } ] } ] in input order; a transition is { n, from, to, cause, src, at,
  why }; an alert names a waiting event the order's new state refused (e.g. PAID_REJECTED).
]]

local input = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
local deadline_ms = tonumber(ARGV[3])
local final_ttl = tonumber(ARGV[4])
local deadlines = KEYS[input.dz]

local FINAL = { REJECTED = true, DELIVERED = true, CANCELLED = true, EXPIRED = true }

-- state -> cause -> 'm:<STATE>[,<STATE>]' | 'n' (no-op) | 'd' (defer) | 'x:<REASON>'
local T = {
  NONE = { PLACED = 'm:PLACED', RESERVED = 'm:PLACED,RESERVED', REJECTED = 'm:PLACED,REJECTED',
    PAID = 'x:ORDER_UNKNOWN', SHIPPED = 'x:ORDER_UNKNOWN', DELIVERED = 'x:ORDER_UNKNOWN',
    CANCELLED = 'x:ORDER_UNKNOWN', EXPIRED = 'x:ORDER_UNKNOWN' },
  PLACED = { PLACED = 'n', RESERVED = 'm:RESERVED', REJECTED = 'm:REJECTED', PAID = 'd',
    SHIPPED = 'x:NOT_PAID', DELIVERED = 'x:NOT_SHIPPED', CANCELLED = 'm:CANCELLED',
    EXPIRED = 'x:NOT_RESERVED' },
  RESERVED = { PLACED = 'n', RESERVED = 'n', REJECTED = 'x:CONFLICTING_RESULT', PAID = 'm:PAID',
    SHIPPED = 'x:NOT_PAID', DELIVERED = 'x:NOT_SHIPPED', CANCELLED = 'm:CANCELLED',
    EXPIRED = 'm:EXPIRED' },
  REJECTED = { PLACED = 'n', RESERVED = 'x:CONFLICTING_RESULT', REJECTED = 'n',
    PAID = 'x:ORDER_REJECTED', SHIPPED = 'x:ORDER_REJECTED', DELIVERED = 'x:ORDER_REJECTED',
    CANCELLED = 'x:ORDER_REJECTED', EXPIRED = 'x:ORDER_REJECTED' },
  PAID = { PLACED = 'n', RESERVED = 'n', REJECTED = 'x:CONFLICTING_RESULT', PAID = 'n',
    SHIPPED = 'm:SHIPPED', DELIVERED = 'x:NOT_SHIPPED', CANCELLED = 'm:CANCELLED',
    EXPIRED = 'x:ALREADY_PAID' },
  SHIPPED = { PLACED = 'n', RESERVED = 'n', REJECTED = 'x:CONFLICTING_RESULT', PAID = 'n',
    SHIPPED = 'n', DELIVERED = 'm:DELIVERED', CANCELLED = 'x:ALREADY_SHIPPED',
    EXPIRED = 'x:ALREADY_PAID' },
  DELIVERED = { PLACED = 'n', RESERVED = 'n', REJECTED = 'x:CONFLICTING_RESULT', PAID = 'n',
    SHIPPED = 'n', DELIVERED = 'n', CANCELLED = 'x:ALREADY_SHIPPED', EXPIRED = 'x:ALREADY_PAID' },
  CANCELLED = { PLACED = 'n', RESERVED = 'n', REJECTED = 'n', PAID = 'x:ORDER_CANCELLED',
    SHIPPED = 'x:ORDER_CANCELLED', DELIVERED = 'x:ORDER_CANCELLED', CANCELLED = 'n',
    EXPIRED = 'x:ORDER_CANCELLED' },
  EXPIRED = { PLACED = 'n', RESERVED = 'n', REJECTED = 'x:CONFLICTING_RESULT',
    PAID = 'x:ORDER_EXPIRED', SHIPPED = 'x:ORDER_EXPIRED', DELIVERED = 'x:ORDER_EXPIRED',
    CANCELLED = 'x:ORDER_EXPIRED', EXPIRED = 'n' },
}

local function split(s, sep)
  local out = {}
  for part in string.gmatch(s, '[^' .. sep .. ']+') do out[#out + 1] = part end
  return out
end

local results = {}
for i, e in ipairs(input.ev) do
  local okey, hkey, ekey = KEYS[e.o], KEYS[e.h], KEYS[e.e]
  local stored = redis.call('HGET', ekey, e.id)
  if stored then
    local r = cjson.decode(stored)
    r.st_first = r.st
    r.st = 'dup'
    results[i] = r
  else
    local state = redis.call('HGET', okey, 'st') or 'NONE'
    local rule = T[state][e.c]
    local r = { id = e.id, tr = {} }
    local function transition(to, cause, src, why)
      local n = tonumber(redis.call('HINCRBY', okey, 'n', 1))
      local from = redis.call('HGET', okey, 'st')
      local t = { n = n, from = from or cjson.null, to = to, cause = cause, src = src, at = now,
        why = why or cjson.null }
      redis.call('HSET', okey, 'st', to)
      redis.call('RPUSH', hkey, cjson.encode(t))
      r.tr[#r.tr + 1] = t
      if to == 'RESERVED' then
        redis.call('HSET', okey, 'dl', now + deadline_ms)
        redis.call('ZADD', deadlines, now + deadline_ms, e.oid)
      else
        redis.call('HDEL', okey, 'dl')
        redis.call('ZREM', deadlines, e.oid)
      end
    end
    -- a payment that overtook its reservation waits in the queue; what follows it on the
    -- order topic (shipment, delivery) waits behind it, so nothing is refused for a race
    local queue = cjson.decode(redis.call('HGET', okey, 'pq') or '[]')
    if state == 'PLACED' and #queue > 0 and (e.c == 'SHIPPED' or e.c == 'DELIVERED' or e.c == 'PAID') then
      rule = 'd'
    end
    if rule == 'n' then
      r.st = 'noop'
      r.why = state == 'NONE' and 'UNKNOWN' or ('ALREADY_' .. state)
    elseif rule == 'd' then
      r.st = 'defer'
      r.why = 'WAITING_FOR_RESERVATION'
      queue[#queue + 1] = { id = e.id, c = e.c, trk = e.trk, car = e.car, why = e.why }
      redis.call('HSET', okey, 'pq', cjson.encode(queue))
    elseif string.sub(rule, 1, 2) == 'x:' then
      r.st = 'dlq'
      r.why = string.sub(rule, 3)
    else
      r.st = 'ok'
      local function apply(to_list, cause, src, why, trk, car)
        for _, to in ipairs(split(to_list, ',')) do transition(to, cause, src, why) end
        if trk then redis.call('HSET', okey, 'trk', trk, 'car', car or '') end
      end
      apply(string.sub(rule, 3), e.c, e.id, e.why, e.trk, e.car)
      -- the reservation (or a cancellation) decided: replay what waited, through the same table;
      -- what the order's new state refuses (a payment for a rejected order) becomes an alert
      local now_state = redis.call('HGET', okey, 'st')
      if #queue > 0 and now_state ~= 'PLACED' then
        redis.call('HDEL', okey, 'pq')
        r.alerts = {}
        for _, q in ipairs(queue) do
          local qrule = T[now_state][q.c]
          if string.sub(qrule, 1, 2) == 'm:' then
            apply(string.sub(qrule, 3), q.c, q.id, q.why, q.trk, q.car)
            now_state = redis.call('HGET', okey, 'st')
          elseif string.sub(qrule, 1, 2) == 'x:' then
            r.alerts[#r.alerts + 1] = { kind = q.c .. '_' .. now_state, src = q.id }
          end
        end
      end
      if FINAL[redis.call('HGET', okey, 'st')] then
        redis.call('EXPIRE', okey, final_ttl)
        redis.call('EXPIRE', hkey, final_ttl)
        redis.call('EXPIRE', ekey, final_ttl)
      end
    end
    redis.call('HSET', ekey, e.id, cjson.encode(r))
    -- outcomes for orders never seen (dead-lettered) must not outlive the re-send window
    if redis.call('EXISTS', okey) == 0 then redis.call('EXPIRE', ekey, final_ttl) end
    results[i] = r
  end
end
return cjson.encode(results)
