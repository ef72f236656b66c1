--[[
  apply-stock-batch: applies chunks of stock and order events, each read from ONE input partition
  (a "segment"), atomically and idempotently, in one call. Several partitions' chunks share a
  call so that the round trip and the script's fixed cost are paid once per fetch, not once per
  partition.

  Idempotence has two layers, both inside this script:
  - Kafka redelivery (crash before commit, rebalance): events at offsets <= their partition's
    applied watermark are not applied again; their stored outputs are returned for re-publishing.
  - Upstream re-sends at a new offset: a stock event id is applied once (marker key with TTL);
    an order is reserved once per order id and moves between hold states only forward.

  KEYS      all keys, referenced from ARGV[1] by index; all share one {tag}, so the call is one
            hash slot in Redis Cluster:
            {tag}:wm:<topic>:<partition>  a partition's last applied offset (string)
            {tag}:ob:<topic>:<partition>  its outbox: zset, score = a chunk's last offset, member =
                                          that chunk's JSON results, kept until the caller confirms
                                          them published (trim)
            {tag}:s:<sku> SKU hashes, {tag}:o:<orderId> order records ("<R|X|L|C>|sku:q,..."),
            {tag}:e:<eventId> stock event-id markers

  ARGV[1]   JSON [ { w = <watermark key idx>, b = <outbox key idx>, trim = <offset or -1>,
                     ev = [ event... ] (offsets ascending) }, ... ]. Events:
            { o, t='RECEIVED'|'ADJUSTED'|'COUNTED', id, q, s=<sku key idx>, e=<marker key idx>, sku }
            { o, t='PLACE', id, oid, ok=<order key idx>, l = { {s, q, sku}, ... } }
            { o, t='RELEASE'|'COMMIT', id, oid, ok, l = { {s, q, sku}, ... } as read beforehand;
              an order placed in the same call needs none: its PLACE declared the keys }
            Sharded stock (several tags, see shards.ts) adds, for an order whose lines span tags:
            { ..., t='PLACE', tent=1, tk=<key idx> }  reserve this tag's lines tentatively: record 'T|...', no
                                        alert yet (the order may still fail on another tag)
            { o, t='CONFIRM'|'ABORT'|'DROP', id, oid, ok, tk, l }  settle a tentative hold: CONFIRM
                                        makes it 'R' and fires the alerts it deferred; ABORT
                                        gives the units back and records the order rejected
                                        ('X'); DROP gives them back and forgets the order, as
                                        if never placed here (dead-lettered or a re-send).
                                        {tag}:t:<orderId> holds the id of the PLACE that left
                                        a record to settle (tentative, or rejected here)
            A segment with w = 0 has no watermark (CONFIRM/ABORT segments): its events are
            idempotent by the order record's state; its results carry ph = 2 and are stored in
            the outbox at their offsets, so a redelivery of that offset replays them.
  ARGV[2]   TTL seconds of stock event-id markers (the re-send window)
  ARGV[3]   TTL seconds of an order record once final (released, committed, rejected)

  Returns JSON { stale = <bool>, segs = [ { r = [ results ], replay = [ stored results ],
  ok = <events applied now>, redelivered = <events at or below the watermark>, rm = <the highest
  of those, or -1> } ] } where a
  result is { o, id, st = 'ok'|'dup'|'skip'|'dlq', why, out = [ outputs ] }. `stale` means an
  order holds a SKU whose key was not declared: nothing was written, read again and retry.
]]

--- @include "stock-level"

local segs = cjson.decode(ARGV[1])
local marker_ttl = tonumber(ARGV[2])
local order_ttl = tonumber(ARGV[3])
for _, seg in ipairs(segs) do
  seg.wm = seg.w > 0 and tonumber(redis.call('GET', KEYS[seg.w]) or '-1') or -1
end

-- Every SKU key the caller declared, by SKU: a held order's stored lines are resolved here.
local sku_idx = {}
for _, seg in ipairs(segs) do
  for _, e in ipairs(seg.ev) do
    if e.s then sku_idx[e.sku] = e.s end
    if e.l then
      for _, line in ipairs(e.l) do sku_idx[line[3]] = line[1] end
    end
  end
end

local function lines_string(lines)
  local parts = {}
  for i, line in ipairs(lines) do parts[i] = line[3] .. ':' .. line[2] end
  return table.concat(parts, ',')
end

local function stored_lines(str)
  local lines = {}
  for sku, q in string.gmatch(str, '([^,:]+):(%d+)') do
    lines[#lines + 1] = { sku_idx[sku], tonumber(q), sku }
  end
  return lines
end

-- Order records, read at most once per call and kept current as the call writes them.
local orders = {}
local function get_order(idx)
  local rec = orders[idx]
  if rec == nil then
    rec = redis.call('GET', KEYS[idx]) or false
    orders[idx] = rec
  end
  return rec
end
local function set_order(idx, value, ttl)
  orders[idx] = value
  if ttl then
    redis.call('SET', KEYS[idx], value, 'EX', ttl)
  else
    redis.call('SET', KEYS[idx], value)
  end
end

-- Phase 1, read-only: the caller declared the SKU keys of held orders as it read them. If an
-- order now holds a SKU that was not declared (another instance changed it meanwhile), nothing
-- may be written: the caller reads again and retries.
for _, seg in ipairs(segs) do
  for _, e in ipairs(seg.ev) do
    if e.o > seg.wm and (e.t == 'RELEASE' or e.t == 'COMMIT' or e.t == 'CONFIRM' or e.t == 'ABORT' or e.t == 'DROP') then
      local rec = get_order(e.ok)
      if rec then
        for _, line in ipairs(stored_lines(string.sub(rec, 3))) do
          if not line[1] then return '{"stale":true,"segs":[]}' end
        end
      end
    end
  end
end

-- Everything may be written from here on: confirmed outputs leave the outboxes.
for _, seg in ipairs(segs) do
  if seg.trim >= 0 then redis.call('ZREMRANGEBYSCORE', KEYS[seg.b], '-inf', seg.trim) end
end

-- Phase 2: apply. SKU state is cached for the batch and written once per SKU at the end.
local skus = {}
local touched, touched_order = {}, {}
local function sku_state(idx)
  local s = skus[idx]
  if not s then
    s = load_sku(KEYS[idx])
    skus[idx] = s
  end
  return s
end
local seg_touched, seg_touched_order = {}, {}
-- written back at the end without a new version: only its alert level moved
local function mark_dirty(idx)
  if not touched[idx] then
    touched[idx] = true
    touched_order[#touched_order + 1] = idx
  end
end
local function changed(idx, s, sku, event_id)
  s.v = s.v + 1
  s.sku = sku
  s.src = event_id
  if not touched[idx] then
    touched[idx] = true
    touched_order[#touched_order + 1] = idx
  end
  if not seg_touched[idx] then
    seg_touched[idx] = true
    seg_touched_order[#seg_touched_order + 1] = idx
  end
end

local seg_replies = {}
for _, seg in ipairs(segs) do
local wm = seg.wm
local settle = seg.w == 0 and 2 or nil
seg_touched, seg_touched_order = {}, {}
local results = {}
local min_redelivered, max_redelivered = nil, nil
local n_ok, n_redelivered = 0, 0
local max_applied = wm

for _, e in ipairs(seg.ev) do
  if e.o <= wm then
    if not min_redelivered then min_redelivered = e.o end
    max_redelivered = e.o
    n_redelivered = n_redelivered + 1
  else
    max_applied = e.o
    local out = {}
    local st, why = 'ok', nil
    local t = e.t

    if t == 'RECEIVED' or t == 'ADJUSTED' or t == 'COUNTED' then
      local s = sku_state(e.s)
      if not s.cv then
        st, why = 'dlq', 'UNKNOWN_SKU'
      elseif not redis.call('SET', KEYS[e.e], '1', 'NX', 'EX', marker_ttl) then
        st, why = 'dup', 'DUPLICATE_EVENT_ID'
      else
        if t == 'COUNTED' then
          -- a count reports the physical truth: a shortage shows as negative available, never clamped
          s.on = e.q
        else
          s.on = s.on + e.q
        end
        changed(e.s, s, e.sku, e.id)
        follow_level(s, e.sku, out)
      end

    elseif t == 'PLACE' then
      if get_order(e.ok) then
        st, why = 'dup', 'ORDER_ALREADY_PLACED'
      else
        local unknown, shortages = nil, {}
        for _, line in ipairs(e.l) do
          local s = sku_state(line[1])
          if not s.cv then
            unknown = line[3]
            break
          end
          local reservable = s.on - s.rs - s.sf
          if line[2] > reservable then
            shortages[#shortages + 1] = { sku = line[3], requested = line[2], available = reservable }
          end
        end
        if unknown then
          st, why = 'dlq', 'UNKNOWN_SKU'
        elseif #shortages > 0 then
          set_order(e.ok, 'X|' .. lines_string(e.l), order_ttl)
          if e.tent then redis.call('SET', KEYS[e.tk], e.id, 'EX', order_ttl) end
          out[#out + 1] = { k = 'result', outcome = 'REJECTED', oid = e.oid, l = e.l, sh = shortages }
        else
          for _, line in ipairs(e.l) do
            local s = sku_state(line[1])
            s.rs = s.rs + line[2]
            changed(line[1], s, line[3], e.id)
            -- a tentative hold's alerts wait for CONFIRM: an aborted order must not raise any
            if not e.tent then follow_level(s, line[3], out) end
          end
          set_order(e.ok, (e.tent and 'T|' or 'R|') .. lines_string(e.l))
          if e.tent then redis.call('SET', KEYS[e.tk], e.id, 'EX', order_ttl) end
          table.insert(out, 1, { k = 'result', outcome = 'RESERVED', oid = e.oid, l = e.l, tent = e.tent })
        end
      end

    elseif t == 'RELEASE' or t == 'COMMIT' then
      local rec = get_order(e.ok)
      local state = rec and string.sub(rec, 1, 1)
      if not state then
        st, why = 'dlq', 'UNKNOWN_ORDER'
      elseif state == 'R' or state == 'T' then
        local lines = stored_lines(string.sub(rec, 3))
        for _, line in ipairs(lines) do
          local s = sku_state(line[1])
          s.rs = s.rs - line[2]
          if t == 'COMMIT' then s.on = s.on - line[2] end
          changed(line[1], s, line[3], e.id)
          follow_level(s, line[3], out)
        end
        set_order(e.ok, (t == 'COMMIT' and 'C|' or 'L|') .. string.sub(rec, 3), order_ttl)
        table.insert(out, 1, { k = 'result', outcome = t == 'COMMIT' and 'COMMITTED' or 'RELEASED', oid = e.oid, l = lines })
      elseif (state == 'C' and t == 'COMMIT') or (state == 'L' and t == 'RELEASE') then
        st, why = 'dup', 'ALREADY_' .. (t == 'COMMIT' and 'COMMITTED' or 'RELEASED')
      else
        -- e.g. cancel after commit (returns come back as stock events) or pay a rejected order
        st, why = 'skip', 'NOTHING_HELD_' .. state
      end
    elseif t == 'CONFIRM' or t == 'ABORT' or t == 'DROP' then
      local rec = get_order(e.ok)
      local state = rec and string.sub(rec, 1, 1)
      -- only the PLACE that made the record may settle it: a settle repeated by a redelivery
      -- must not touch a record a later re-send of the order made meanwhile
      if redis.call('GET', KEYS[e.tk]) ~= e.id or (state ~= 'T' and state ~= 'X') then
        st, why = 'dup', 'SETTLED_' .. (state or 'NONE')
      else
        redis.call('DEL', KEYS[e.tk])
        if state == 'T' then
          for _, line in ipairs(stored_lines(string.sub(rec, 3))) do
            local s = sku_state(line[1])
            if t ~= 'CONFIRM' then
              s.rs = s.rs - line[2]
              changed(line[1], s, line[3], e.id)
            else
              mark_dirty(line[1])
            end
            follow_level(s, line[3], out)
          end
        end
        if t == 'CONFIRM' and state == 'T' then
          set_order(e.ok, 'R|' .. string.sub(rec, 3))
        elseif t == 'ABORT' then
          set_order(e.ok, 'X|' .. string.sub(rec, 3), order_ttl)
          why = 'ABORTED'
        elseif t == 'DROP' then
          redis.call('DEL', KEYS[e.ok])
          orders[e.ok] = false
          why = 'DROPPED'
        end
      end
    else
      st, why = 'dlq', 'UNKNOWN_EVENT_KIND'
    end

    if st == 'ok' then n_ok = n_ok + 1 end
    if st ~= 'ok' or #out > 0 or why then
      results[#results + 1] = { o = e.o, id = e.id, st = st, why = why, out = out, ph = settle }
    end
  end
end

-- SKU snapshots for the stock-level changelog: one per SKU the chunk changed, after its last change.
local levels = {}
for _, idx in ipairs(seg_touched_order) do
  local s = skus[idx]
  levels[#levels + 1] = { k = 'level', sku = s.sku, on = s.on, rs = s.rs, v = s.v, src = s.src }
end
if #levels > 0 then
  results[#results + 1] = { o = max_applied, st = 'ok', out = levels, ph = settle }
end

-- outbox and watermark move in the same atomic call as the state they describe
-- one outbox member per batch (scored by its last offset): one write, however many outputs
-- (encoded once: cjson is the costliest step of a large batch)
local encoded = '[]'
if #results > 0 then
  encoded = cjson.encode(results)
  redis.call('ZADD', KEYS[seg.b], max_applied, encoded)
end
if seg.w > 0 and max_applied > wm then
  redis.call('SET', KEYS[seg.w], string.format('%d', max_applied))
end

local replay = '[]'
if min_redelivered then
  local stored = {}
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[seg.b], min_redelivered, '+inf')) do
    for _, r in ipairs(cjson.decode(member)) do
      if r.o >= min_redelivered and r.o <= max_redelivered then stored[#stored + 1] = r end
    end
  end
  if #stored > 0 then replay = cjson.encode(stored) end
end
seg_replies[#seg_replies + 1] = '{"r":' .. encoded .. ',"replay":' .. replay .. ',"ok":' .. n_ok
  .. ',"redelivered":' .. n_redelivered .. ',"rm":' .. string.format('%d', max_redelivered or -1) .. '}'
end

-- every SKU the call changed is written once, after all segments
for _, idx in ipairs(touched_order) do
  save_sku(KEYS[idx], skus[idx])
end
return '{"stale":false,"segs":[' .. table.concat(seg_replies, ',') .. ']}'
