--[[
  apply-stock-batch: applies chunks of stock and order events, each read from ONE input partition
  (a "segment"), atomically and idempotently, in one call. Several partitions' chunks share a
  call so that the round trip and the script's fixed cost are paid once per fetch, not once per
  partition.

  Check before write: the script first reads and decides everything, keeping every change in
  Lua tables, and writes only at the end. An error while deciding (a key of the wrong type, a
  corrupt record) leaves nothing of the call applied, so the caller can retry or isolate the
  event that fails without finding half of it done.

  Idempotence has two layers, both inside this script:
  - Kafka redelivery (crash before commit, rebalance): events at offsets <= their partition's
    applied watermark are not applied again; their stored outputs are returned for re-publishing.
    The watermark moves to the chunk's last offset (`up`), dead letters and skipped events
    included, in the same call as the state: it is the position the processor resumes from.
  - Upstream re-sends at a new offset: a stock event id is applied once (remembered for ARGV[2] s);
    an order is reserved once per order id and its hold only moves forward (order-rules.ts).

  KEYS      all keys, referenced from ARGV[1] by index; all share one {tag}, so the call is one
            hash slot in Redis Cluster:
            {tag}:wm:<topic>:<partition>  a partition's applied position (string)
            {tag}:ob:<topic>:<partition>  its outbox: zset, score = a chunk's last offset, member =
                                          that chunk's JSON results, kept until the caller confirms
                                          them published (trim)
            {tag}:sb:<bucket> SKU records, {tag}:o:<orderId> order records ("<R|T|X|C|S|L>|sku:q,..."),
            {tag}:eb:<bucket> stock event ids seen (hash: id -> minute applied),
            {tag}:t:<orderId> tentative-hold owners
            {tag}:holds   zset: orderId by the time its hold was made (the abandoned-hold sweeper)
            {tag}:dirty   hash: sku -> "@<ms>|<eventId>|<topic:partition:offset>" of SKUs whose level the
                          changelog has not published yet (changelog.ts drains it)
            {tag}:dirty-pending  hash: sku -> chunks that changed it and still owe its level record
            {tag}:at-risk zset: SKUs with a standing stock-out prediction, by predicted time (ms)

  ARGV[1]   JSON { hz = <holds idx>, dz = <dirty idx>, pz = <dirty-pending idx>, rz = <at-risk idx>, now = <ms>,
            fx = { h = <velocity half-life s>, m = <stock-out warning margin h> },
            wh = { def = <default warehouse>, pref = [ <warehouses in preference order> ] }, segs = [ { w = <watermark idx,
            0 = none>, b = <outbox idx>, up = <chunk's last offset or -1>, ex = <the caller's last
            applied offset of the partition, optional>, src = '<topic>:<partition>',
            trim = <offset or -1>, ev = [ event... ] (offsets ascending) }, ... ] }. Events:
            { o, t='RECEIVED'|'ADJUSTED'|'COUNTED', id, q, s=<sku key idx>, e=<event-id bucket idx>, sku }
            Every event may carry ad = <its event time in whole seconds> - <now's> (velocities and
            predictions; absent: 0, now; a CONFIRM without one counts as of the SKU's last);
            a stock event w = <warehouse> (default: ARGV[1].wh.def).
            { o, t='PLACE', id, oid, ok=<order key idx>, l = { {s, q, sku}, ... } }
            { o, t='PAY'|'SHIP'|'DELIVER'|'CANCEL'|'EXPIRE', id, oid, ok, l = { {s, q, sku}, ... } as read
              beforehand; an order placed in the same call needs none: its PLACE declared the keys }
            Sharded stock (several tags, see shards.ts) adds, for an order whose lines span tags:
            { ..., t='PLACE', tent=1, tk=<key idx> }  reserve this tag's lines tentatively: record
                                        'T|...', no alert yet (the order may still fail elsewhere)
            { o, t='CONFIRM'|'ABORT'|'DROP', id, oid, ok, tk, l }  settle a tentative hold: CONFIRM
                                        makes it 'R' and fires the alerts it deferred; ABORT
                                        gives the units back and records the order rejected
                                        ('X'); DROP gives them back and forgets the order, as
                                        if never placed here (dead-lettered or a re-send).
            A segment with w = 0 has no watermark (CONFIRM/ABORT segments): its events are
            idempotent by the order record's state; its results carry ph = 2 and are stored in
            the outbox at their offsets, so a redelivery of that offset replays them.
  ARGV[2]   seconds a stock event id is remembered (the re-send window)
  ARGV[3]   TTL seconds of an order record once final, of tentative-hold owners and of outboxes

  Returns { JSON, levels of segment 1, levels of segment 2, ... }: JSON { stale = false, segs = [
  { r = [ results ], replay = [ stored results ], ok = <events applied now>, redelivered =
  <events at or below the watermark>, rm = <the highest of those, or -1> } ] } where a result is
  { o, id, st = 'ok'|'dup'|'skip'|'dlq', why, out = [ outputs ] }; a segment's levels are one
  MessagePack array of strings ('' when none): sku, "<eventId>|<src>", SKU record as written
  (sku-record.ts: bytes), warehouse parts or '', ...: the state of every SKU the call changed, for the changelog, with the last segment that
  changed it. Or JSON alone: { stale = true } means an order holds a SKU whose key was not
  declared: nothing was written, read again and retry. { lost = [ [ segment number, watermark ]
  ] }: a watermark is below the segment's `ex`; nothing was written.
]]

--- @include "stock-level"
--- @include "forecast"
--- @include "multi-member"
--- @generated "order-rules"

local input = cjson.decode(ARGV[1])
--- @section "decode-argument"
local segs = input.segs
local marker_ttl = tonumber(ARGV[2])
local order_ttl = tonumber(ARGV[3])
-- Numbers given to redis.call are turned into text there with a '%.17g' printf, which costs
-- several times the command they are part of: the ones a call repeats are made text once, the
-- rest by '%d' (the figures are whole).
local int_text = function(n) return string.format('%d', n) end
local marker_ttl_text, order_ttl_text = int_text(marker_ttl), int_text(order_ttl)
local now = input.now
local now_text = int_text(now)
local holds_key, dirty_key, pending_key = KEYS[input.hz], KEYS[input.dz], KEYS[input.pz]
local risk_key = KEYS[input.rz]
forecast_settings(input.fx)
-- warehouses: the one events without a warehouse name, and the order in which an order's
-- lines are looked for (listed ones first, the rest by name)
local warehouse_rank = {}
if input.wh then
  DEFAULT_WAREHOUSE = input.wh.def
  for i, w in ipairs(input.wh.pref) do warehouse_rank[w] = i end
end

-- Reads that also prove every key we will write has the type we expect: a wrong one fails
-- here, before anything is written.
redis.call('ZCARD', holds_key)
redis.call('HLEN', dirty_key)
redis.call('HLEN', pending_key)
redis.call('ZCARD', risk_key)
local lost = {}
for seg_no, seg in ipairs(segs) do
  seg.wm = seg.w > 0 and tonumber(redis.call('GET', KEYS[seg.w]) or '-1') or -1
  redis.call('ZCARD', KEYS[seg.b])
  -- below what the caller applied before: Redis lost writes (a failover to a replica without
  -- them); deciding on this state would decide on a past that is gone
  if seg.ex and seg.wm < seg.ex then lost[#lost + 1] = { seg_no, seg.wm } end
end
if #lost > 0 then return cjson.encode({ lost = lost }) end

--- @section "read-positions"
-- Whether this call meets stock outside the default warehouse: an event naming another
-- warehouse, a SKU split across warehouses or an order held in one. Until it does, the
-- per-warehouse bookkeeping has nothing to do, and most shops never name a warehouse: its
-- hooks are skipped rather than called to return at once, several times per event.
local warehouses_used = false
-- Every SKU key the caller declared, by SKU: a held order's stored lines are resolved here.
local sku_idx = {}
for _, seg in ipairs(segs) do
  for _, e in ipairs(seg.ev) do
    if e.s then sku_idx[e.sku] = e.s end
    if e.w and e.w ~= DEFAULT_WAREHOUSE then warehouses_used = true end
    if e.l then
      for _, line in ipairs(e.l) do sku_idx[line[3]] = line[1] end
    end
  end
end

-- An order record's lines: "sku:q" for a line held in the default warehouse, else
-- "sku:q@<warehouse>=<n>+<warehouse>=<n>" (where each of its units is held).
local function lines_string(lines, allocations)
  local parts = {}
  for i, line in ipairs(lines) do
    local part = line[3] .. ':' .. int_text(line[2])
    local a = allocations and allocations[i]
    if a then
      local held = {}
      for j, h in ipairs(a) do held[j] = h[1] .. '=' .. int_text(h[2]) end
      part = part .. '@' .. table.concat(held, '+')
    end
    parts[i] = part
  end
  return table.concat(parts, ',')
end

-- Parsed once per distinct lines string: the held-lines check and the event that settles the
-- order both need them. Callers only read the tables they get.
local parsed_lines = {}
local function stored_lines(str)
  local lines = parsed_lines[str]
  if lines then return lines end
  lines = {}
  for sku, q, held in string.gmatch(str, '([^,:]+):(%d+)([^,]*)') do
    local a
    if held ~= '' then
      warehouses_used = true
      a = {}
      for w, n in string.gmatch(held, '([^@=+]+)=(%d+)') do a[#a + 1] = { w, tonumber(n) } end
    end
    lines[#lines + 1] = { sku_idx[sku], tonumber(q), sku, a }
  end
  parsed_lines[str] = lines
  return lines
end

-- Order records, read at most once per call; what the call decides is written at the end.
local orders, order_writes, order_write_list = {}, {}, {}
local function get_order(idx)
  local rec = orders[idx]
  if rec == nil then
    rec = redis.call('GET', KEYS[idx]) or false
    orders[idx] = rec
  end
  return rec
end
-- ttl: seconds as text (a final order expires), or false
local function set_order(idx, value, ttl)
  orders[idx] = value
  if not order_writes[idx] then order_write_list[#order_write_list + 1] = idx end
  order_writes[idx] = { value, ttl }
end

-- Stock event ids seen, for de-duplication: each is a field of one of the {tag}:eb:<n> bucket
-- hashes, its value the minute it was applied; it counts as seen for marker_ttl seconds after.
-- A few bytes per id where a key per id cost a hundred.
local now_min = math.floor(now / 60000)
-- event times come as whole seconds from this one (ad; absent: 0)
local now_second = math.floor(now / 1000)
local seen_since = now_min - math.floor(marker_ttl / 60)
local now_min_text = int_text(now_min)
local id_writes, id_bucket_list = {}, {}
local function id_seen(idx, id)
  local w = id_writes[idx]
  if w and w[id] then return true end
  local at = redis.call('HGET', KEYS[idx], id)
  return at ~= false and (tonumber(at) or 0) >= seen_since
end
local function mark_id_seen(idx, id)
  local w = id_writes[idx]
  if not w then
    w = {}
    id_writes[idx] = w
    id_bucket_list[#id_bucket_list + 1] = idx
  end
  w[id] = true
end

-- Pending writes of the small keys, applied in the write phase.
local owner_writes, owner_write_list = {}, {}
local hold_adds, hold_removes = {}, {}
local function set_owner(idx, value)
  if owner_writes[idx] == nil then owner_write_list[#owner_write_list + 1] = idx end
  owner_writes[idx] = value
end
local function get_owner(idx)
  local w = owner_writes[idx]
  if w ~= nil then return w end
  return redis.call('GET', KEYS[idx]) or false
end
local function hold_made(oid)
  hold_adds[oid] = true
  hold_removes[oid] = nil
end
local function hold_gone(oid)
  hold_removes[oid] = true
  hold_adds[oid] = nil
end

-- The caller declared the SKU keys of held orders as it read them. If an order now holds a SKU
-- that was not declared (another instance changed it meanwhile), nothing may be written: the
-- caller reads again and retries.
for _, seg in ipairs(segs) do
  for _, e in ipairs(seg.ev) do
    if e.o > seg.wm and e.t ~= 'PLACE' and e.ok then
      local rec = get_order(e.ok)
      if rec then
        for _, line in ipairs(stored_lines(string.sub(rec, 3))) do
          if not line[1] then return '{"stale":true,"segs":[]}' end
        end
      end
    end
  end
end

--- @section "check-held-lines"
-- SKU state is cached for the call and written once per SKU at the end. A SKU is its bucket
-- key (KEYS[idx], shared with other SKUs) and its name, the field in that bucket.
local skus = {}
local touched, touched_order = {}, {}
local dirty = {}
local function sku_state(idx, sku)
  local s = skus[sku]
  if not s then
    s = load_sku(KEYS[idx], sku)
    skus[sku] = s
    if not warehouses_used and s.fc and has_flag(s, SPLIT) then warehouses_used = true end
  end
  return s
end
local function mark_touched(idx, sku)
  if not touched[sku] then
    touched[sku] = idx
    touched_order[#touched_order + 1] = sku
  end
end
-- Where an order's lines are held, when any of their SKUs is stocked outside the default
-- warehouse (nil: all in the default warehouse, as before warehouses). One warehouse that can
-- serve every line whole, the first in preference order; otherwise each line from the
-- warehouses in that order, all or nothing: false and the first line that cannot be served.
local function by_preference(a, b)
  local ra, rb = warehouse_rank[a] or math.huge, warehouse_rank[b] or math.huge
  if ra ~= rb then return ra < rb end
  return a < b
end
local function allocate(lines)
  if not warehouses_used then return nil end
  local splits, any = {}, false
  for _, line in ipairs(lines) do
    local s = skus[line[3]]
    if has_parts(s) then any = true end
  end
  if not any then return nil end
  local candidates, seen = {}, {}
  for i, line in ipairs(lines) do
    local split = split_of(KEYS[line[1]], line[3], skus[line[3]])
    splits[i] = split
    for _, w in ipairs(split.names) do
      if not seen[w] then
        seen[w] = true
        candidates[#candidates + 1] = w
      end
    end
  end
  table.sort(candidates, by_preference)
  for _, w in ipairs(candidates) do
    local whole = true
    for i, line in ipairs(lines) do
      local e = splits[i].by[w]
      if not e or e.on - e.rs < line[2] then
        whole = false
        break
      end
    end
    if whole then
      local allocations = {}
      for i, line in ipairs(lines) do allocations[i] = { { w, line[2] } } end
      return allocations
    end
  end
  local allocations = {}
  for i, line in ipairs(lines) do
    local left, a = line[2], {}
    for _, w in ipairs(candidates) do
      local e = splits[i].by[w]
      local free = e and e.on - e.rs or 0
      if free > 0 then
        local take = free < left and free or left
        a[#a + 1] = { w, take }
        left = left - take
        if left == 0 then break end
      end
    end
    if left > 0 then return false, i end
    allocations[i] = a
  end
  return allocations
end

-- Moves the units a line holds where they are held (its allocation, or all of it in the
-- default warehouse): d_on and d_rs are -1, 0 or 1 per unit.
local function move_holds(key, s, line, d_on, d_rs)
  if not warehouses_used then return end
  local a = line[4]
  if not a then
    warehouse_move(key, line[3], s, DEFAULT_WAREHOUSE, d_on * line[2], d_rs * line[2])
    return
  end
  for _, h in ipairs(a) do warehouse_move(key, line[3], s, h[1], d_on * h[2], d_rs * h[2]) end
end

-- on hand or reserved moved: a new version, and the changelog owes the SKU a record, which
-- goes out with the outputs of the last segment that changed it
local cur_seg = 0
local level_of, level_order = {}, {}
local function changed(idx, s, sku, event_id, src)
  s.v = s.v + 1
  mark_touched(idx, sku)
  dirty[sku] = event_id .. '|' .. src
  if not level_of[sku] then level_order[#level_order + 1] = sku end
  level_of[sku] = { idx, cur_seg }
end

local seg_heads, outbox_writes = {}, {}
for seg_no, seg in ipairs(segs) do
  cur_seg = seg_no
  local wm = seg.wm
  local settle = seg.w == 0 and 2 or nil
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
      local src = seg.src .. ':' .. int_text(e.o)
      -- event time, whole seconds: what velocities and predictions are measured in
      local at = now_second + (e.ad or 0)

      if t == 'RECEIVED' or t == 'ADJUSTED' or t == 'COUNTED' then
        local s = sku_state(e.s, e.sku)
        if not s.cv then
          st, why = 'dlq', 'UNKNOWN_SKU'
        elseif id_seen(e.e, e.id) then
          st, why = 'dup', 'DUPLICATE_EVENT_ID'
        else
          mark_id_seen(e.e, e.id)
          local w = e.w or DEFAULT_WAREHOUSE
          local key = KEYS[e.s]
          if t == 'COUNTED' then
            -- a count reports the physical truth of one warehouse: a shortage shows as
            -- negative available, never clamped
            local counted = s.on
            if warehouses_used then
              if s.split or has_flag(s, SPLIT) or w ~= DEFAULT_WAREHOUSE then
                local part = split_of(key, e.sku, s).by[w]
                counted = part and part.on or 0
              end
              warehouse_move(key, e.sku, s, w, e.q - counted, 0)
            end
            s.on = s.on + e.q - counted
          else
            if warehouses_used then warehouse_move(key, e.sku, s, w, e.q, 0) end
            s.on = s.on + e.q
          end
          changed(e.s, s, e.sku, e.id, src)
          follow_level(s, e.sku, out)
          follow_forecast(s, e.sku, at, out)
        end

      elseif t == 'PLACE' then
        if get_order(e.ok) then
          st, why = 'dup', 'ORDER_ALREADY_PLACED'
        else
          local unknown, shortages = nil, {}
          for _, line in ipairs(e.l) do
            local s = sku_state(line[1], line[3])
            if not s.cv then
              unknown = line[3]
              break
            end
            local reservable = s.on - s.rs - s.sf
            if line[2] > reservable then
              shortages[#shortages + 1] = { sku = line[3], requested = line[2], available = reservable }
            end
          end
          local allocations, unserved
          if not unknown and #shortages == 0 then
            allocations, unserved = allocate(e.l)
            if allocations == false then
              -- enough in all, not where it is: per warehouse, nothing can hold this line whole
              local line = e.l[unserved]
              local free = 0
              for _, part in pairs(skus[line[3]].split.by) do
                if part.on - part.rs > 0 then free = free + part.on - part.rs end
              end
              shortages[1] = { sku = line[3], requested = line[2], available = free }
            end
          end
          if unknown then
            st, why = 'dlq', 'UNKNOWN_SKU'
          elseif #shortages > 0 then
            local ls = lines_string(e.l)
            set_order(e.ok, 'X|' .. ls, order_ttl_text)
            if e.tent then set_owner(e.tk, e.id) end
            out[#out + 1] = { k = 'result', outcome = 'REJECTED', oid = e.oid, ls = ls, sh = shortages }
          else
            for i, line in ipairs(e.l) do
              local s = sku_state(line[1], line[3])
              if allocations then
                for _, h in ipairs(allocations[i]) do warehouse_move(KEYS[line[1]], line[3], s, h[1], 0, h[2]) end
              end
              s.rs = s.rs + line[2]
              changed(line[1], s, line[3], e.id, src)
              -- a tentative hold's alerts and demand wait for CONFIRM: an aborted order must
              -- leave no trace
              if not e.tent then
                count_demand(s, 'rv', line[2], at)
                follow_level(s, line[3], out)
                follow_forecast(s, line[3], at, out)
              end
            end
            local ls = lines_string(e.l, allocations)
            set_order(e.ok, (e.tent and 'T|' or 'R|') .. ls, false)
            if e.tent then set_owner(e.tk, e.id) end
            hold_made(e.oid)
            table.insert(out, 1, { k = 'result', outcome = 'RESERVED', oid = e.oid, ls = ls, tent = e.tent })
          end
        end

      elseif ORDER_RULES[t] then
        -- PAY, SHIP, DELIVER, CANCEL, EXPIRE: the generated table is the list
        local rec = get_order(e.ok)
        local state = rec and string.sub(rec, 1, 1) or 'NONE'
        -- a tentative hold left by a crash is settled before anything later of its order
        if state == 'T' then state = 'R' end
        local rule = ORDER_RULES[t][state]
        local action = rule[1]
        if action == 'dlq' or action == 'dup' or action == 'skip' then
          st, why = action, rule[2]
        else
          local lines = stored_lines(string.sub(rec, 3))
          local next_state, outcome
          for _, line in ipairs(lines) do
            local s = sku_state(line[1], line[3])
            local key = KEYS[line[1]]
            if action == 'commit' or action == 'ship' then
              move_holds(key, s, line, -1, -1)
              s.rs = s.rs - line[2]
              s.on = s.on - line[2]
              count_demand(s, 'sv', line[2], at)
            elseif action == 'ship-unheld' then
              -- nothing held: the goods left from where the order was once held, if it was
              move_holds(key, s, line, -1, 0)
              s.on = s.on - line[2]
              count_demand(s, 'sv', line[2], at)
            elseif action == 'release' then
              move_holds(key, s, line, 0, -1)
              s.rs = s.rs - line[2]
            elseif action == 'restock' then
              move_holds(key, s, line, 1, 0)
              s.on = s.on + line[2]
            end
            if action ~= 'ship-committed' then
              changed(line[1], s, line[3], e.id, src)
              follow_level(s, line[3], out)
              follow_forecast(s, line[3], at, out)
            end
          end
          if action == 'commit' then
            next_state, outcome = 'C', 'COMMITTED'
          elseif action == 'ship' then
            next_state, outcome = 'S', 'COMMITTED'
          elseif action == 'ship-committed' then
            -- no result to publish, but an entry: with several shards, the order's home shard
            -- answers "unknown order" and the merge must see that the holder applied it
            next_state, why = 'S', 'SHIPPED_AFTER_PAYMENT'
          elseif action == 'ship-unheld' then
            next_state, outcome, why = 'S', 'COMMITTED', 'SHIPPED_WITHOUT_HOLD'
          elseif action == 'release' then
            next_state, outcome = 'L', 'RELEASED'
          else
            next_state, outcome, why = 'L', 'RELEASED', 'RESTOCKED'
          end
          local ls = string.sub(rec, 3)
          set_order(e.ok, next_state .. '|' .. ls, order_ttl_text)
          hold_gone(e.oid)
          if outcome then
            table.insert(out, 1, { k = 'result', outcome = outcome, oid = e.oid, ls = ls, r = why })
          end
        end

      elseif t == 'CONFIRM' or t == 'ABORT' or t == 'DROP' then
        local rec = get_order(e.ok)
        local state = rec and string.sub(rec, 1, 1)
        -- only the PLACE that made the record may settle it: a settle repeated by a redelivery
        -- must not touch a record a later re-send of the order made meanwhile
        if get_owner(e.tk) ~= e.id or (state ~= 'T' and state ~= 'X') then
          st, why = 'dup', 'SETTLED_' .. (state or 'NONE')
        else
          set_owner(e.tk, false)
          if state == 'T' then
            for _, line in ipairs(stored_lines(string.sub(rec, 3))) do
              local s = sku_state(line[1], line[3])
              if t ~= 'CONFIRM' then
                move_holds(KEYS[line[1]], s, line, 0, -1)
                s.rs = s.rs - line[2]
                changed(line[1], s, line[3], e.id, src)
              else
                -- its demand counts now: a change of the SKU the changelog must carry
                changed(line[1], s, line[3], e.id, src)
              end
              follow_level(s, line[3], out)
              if t == 'CONFIRM' then
                -- demand at the order's time (carried from its PLACE), never moving time back
                count_demand(s, 'rv', line[2], e.ad and now_second + e.ad or s.vt)
                follow_forecast(s, line[3], s.vt, out)
              end
            end
          end
          if t == 'CONFIRM' and state == 'T' then
            set_order(e.ok, 'R|' .. string.sub(rec, 3), false)
          elseif t == 'ABORT' then
            -- rejected, as if rejected at once: it holds nothing anywhere (a shipment that comes
            -- anyway is deducted from the default warehouse, as for any rejected order)
            set_order(e.ok, 'X|' .. (string.gsub(string.sub(rec, 3), '@[^,]*', '')), order_ttl_text)
            hold_gone(e.oid)
            why = 'ABORTED'
          elseif t == 'DROP' then
            set_order(e.ok, false, nil)
            hold_gone(e.oid)
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
  -- the position covers the whole chunk: dead letters, skipped events, nothing at all
  if seg.up and seg.up > max_applied then max_applied = seg.up end

  -- one outbox member per chunk (scored by its last offset): one write, however many outputs
  local encoded = '[]'
  if #results > 0 then
    encoded = cjson.encode(results)
    outbox_writes[#outbox_writes + 1] = { seg.b, max_applied, encoded }
  end
  seg.new_wm = max_applied

  local replay = '[]'
  if min_redelivered then
    local stored = {}
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[seg.b], int_text(min_redelivered), '+inf')) do
      for _, r in ipairs(cjson.decode(member)) do
        -- what the caller confirmed published (trim) is not repeated, though it leaves the
        -- outbox only in the write phase
        if r.o >= min_redelivered and r.o <= max_redelivered and r.o > seg.trim then
          stored[#stored + 1] = r
        end
      end
    end
    if #stored > 0 then replay = cjson.encode(stored) end
  end
  seg_heads[seg_no] = '{"r":' .. encoded .. ',"replay":' .. replay .. ',"ok":' .. int_text(n_ok)
    .. ',"redelivered":' .. int_text(n_redelivered) .. ',"rm":' .. int_text(max_redelivered or -1)
end

--- @section "decide-events"
local seg_replies = {}
for seg_no in ipairs(segs) do seg_replies[seg_no] = seg_heads[seg_no] .. '}' end

--- @section "encode-replies"
-- Write phase: everything was decided without an error.
for _, seg in ipairs(segs) do
  if seg.trim >= 0 then redis.call('ZREMRANGEBYSCORE', KEYS[seg.b], '-inf', int_text(seg.trim)) end
end
local risk_args, risk_gone, written = {}, {}, {}
for _, sku in ipairs(touched_order) do
  local s = skus[sku]
  written[sku] = save_sku(KEYS[touched[sku]], sku, s)
  if s.risk then
    risk_args[#risk_args + 1] = int_text(s.risk)
    risk_args[#risk_args + 1] = sku
  elseif s.risk == false then
    risk_gone[#risk_gone + 1] = sku
  end
end
call_in_groups('ZADD', risk_key, risk_args)
call_in_groups('ZREM', risk_key, risk_gone)
--- @section "write-skus"
for _, idx in ipairs(order_write_list) do
  local w = order_writes[idx]
  if not w[1] then
    redis.call('DEL', KEYS[idx])
  elseif w[2] then
    redis.call('SET', KEYS[idx], w[1], 'EX', w[2])
  else
    redis.call('SET', KEYS[idx], w[1])
  end
end
for _, idx in ipairs(owner_write_list) do
  local v = owner_writes[idx]
  if v then redis.call('SET', KEYS[idx], v, 'EX', order_ttl_text) else redis.call('DEL', KEYS[idx]) end
end
--- @section "write-orders"
for _, idx in ipairs(id_bucket_list) do
  local key = KEYS[idx]
  for id in pairs(id_writes[idx]) do redis.call('HSET', key, id, now_min_text) end
  -- a bucket grown past a compact listpack sheds the ids out of the window, at most once a day
  -- (the '' field, never an event id, says when it last did)
  if redis.call('HLEN', key) > 128 and (tonumber(redis.call('HGET', key, '') or '0') or 0) < now_min - 1440 then
    local flat = redis.call('HGETALL', key)
    for i = 1, #flat, 2 do
      if flat[i] ~= '' and (tonumber(flat[i + 1]) or 0) < seen_since then redis.call('HDEL', key, flat[i]) end
    end
    redis.call('HSET', key, '', now_min_text)
  end
  -- a bucket nobody added to for a whole window goes at once
  redis.call('EXPIRE', key, marker_ttl_text)
end
--- @section "write-event-ids"
-- The small per-item writes go out as one multi-member command per key, not one per item: a
-- command called from a script costs far more than the work it does.
local hold_args, released = {}, {}
for oid in pairs(hold_adds) do
  hold_args[#hold_args + 1] = now_text
  hold_args[#hold_args + 1] = oid
end
for oid in pairs(hold_removes) do released[#released + 1] = oid end
call_in_groups('ZADD', holds_key, hold_args)
call_in_groups('ZREM', holds_key, released)
--- @section "write-holds"
-- stamped with the time: the drainer leaves a SKU to the chunks that changed it for a while.
-- Each such chunk counts as a publisher with a record on its way: until every one has
-- acknowledged, no acknowledgement clears the mark (a stale record may still land last).
if #level_order > 0 then
  local stamp = '@' .. now_text .. '|'
  local pending = read_in_groups('HMGET', pending_key, level_order)
  local dirty_args, pending_args = {}, {}
  for i, sku in ipairs(level_order) do
    dirty_args[#dirty_args + 1] = sku
    dirty_args[#dirty_args + 1] = stamp .. dirty[sku]
    pending_args[#pending_args + 1] = sku
    pending_args[#pending_args + 1] = int_text((tonumber(pending[i]) or 0) + 1)
  end
  call_in_groups('HSET', dirty_key, dirty_args)
  call_in_groups('HSET', pending_key, pending_args)
end
--- @section "write-dirty"
for _, w in ipairs(outbox_writes) do
  redis.call('ZADD', KEYS[w[1]], int_text(w[2]), w[3])
  redis.call('EXPIRE', KEYS[w[1]], order_ttl_text)
end
for _, seg in ipairs(segs) do
  if seg.w > 0 and seg.new_wm > seg.wm then
    redis.call('SET', KEYS[seg.w], int_text(seg.new_wm))
  end
end
--- @section "write-outbox"
-- The changelog records of the SKUs this call changed, each with the segment that changed it
-- last: flat { sku, "<eventId>|<src>", the record as written, its parts or '', ... }. The packed
-- record goes as it is (bytes, so beside the JSON, not in it): no figure formatted twice.
local seg_levels = {}
for _, sku in ipairs(level_order) do
  local at = level_of[sku]
  local list = seg_levels[at[2]]
  if not list then
    list = {}
    seg_levels[at[2]] = list
  end
  local n = #list
  list[n + 1], list[n + 2], list[n + 3], list[n + 4] = sku, dirty[sku], written[sku],
    warehouses_used and level_parts(KEYS[at[1]], sku, skus[sku]) or ''
end
local reply = { '{"stale":false,"segs":[' .. table.concat(seg_replies, ',') .. ']}' }
-- one MessagePack array of strings per segment: one reply string, not four per SKU
for seg_no in ipairs(segs) do reply[seg_no + 1] = seg_levels[seg_no] and cmsgpack.pack(seg_levels[seg_no]) or '' end
--- @section "encode-levels-and-reply"
return reply
