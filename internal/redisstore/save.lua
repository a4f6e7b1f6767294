-- Save one or more CloudEvent groups of fixes for one tenant, atomically.
--
-- KEYS[1] geo, KEYS[2] last, KEYS[3] lastts, KEYS[4] devices; KEYS[5..] the
-- seen and history keys, referenced by index from ARGV. All keys are declared
-- (Redis Cluster rules) and share the tenant's hash tag.
--
-- ARGV[1] now (unix ms), ARGV[2] history cutoff (unix ms, points below are
-- trimmed), ARGV[3] retention (ms), ARGV[4] dedup TTL (ms), ARGV[5] groups,
-- ARGV[6] event outbox KEYS index (0 = no events), ARGV[7] its capacity,
-- ARGV[8] tenant, ARGV[9] event slots. Then per group: seen key index (0 =
-- no event dedup), fix count, digest of the event's data, event slot (0 =
-- none); and per fix: history key index, device, ts (unix ms), lon, lat,
-- fix JSON. Last, per event slot: type, source, traceparent.
--
-- Returns per group: duplicate (0/1), accepted fixes, duplicate fixes, a
-- string with one character per fix ('1' stored now, '0' a duplicate), and
-- conflict (1: a duplicate event id whose data differs from the first's).
--
-- Event outbox: the fixes stored now of the groups of one slot become one
-- event entry (fields type, id, source, subject, time, trace, data) in the
-- tenant's outbox stream, in this same atomic call, so no stored fix goes
-- unannounced. The id is sha1(type, tenant, device, ts) of its first fix
-- (redisstore.EventID). A full outbox fails the call before any write
-- (error reply OUTBOXFULL).
--
-- Cost matters (this is the ingest hot path): no call per fix unless it is
-- late (a ZCOUNT); one ZADD per device; a trim and a PEXPIRE per device at
-- most once a minute (see the end); the latest positions, timestamps and
-- the device set are read and written with one multi-member call per
-- CHUNK devices. No unpack() of unbounded tables.

local geo, last, lastts, devices = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local cutoff = ARGV[2]
local retention = tonumber(ARGV[3])
local dedupTTL = ARGV[4]
local groups = tonumber(ARGV[5])
local outboxIdx = tonumber(ARGV[6])
local tenant = ARGV[8]
local slots = tonumber(ARGV[9])
local FIRST = 10                    -- ARGV index of the first group
local slotBase = #ARGV - 3 * slots  -- ARGV index before the slot definitions
local CHUNK = 500

if outboxIdx > 0 then
  local depth = redis.call('XLEN', KEYS[outboxIdx])
  if depth + slots > tonumber(ARGV[7]) then
    return redis.error_reply('OUTBOXFULL the event outbox holds ' .. depth .. ' of ' .. ARGV[7] .. ' events')
  end
end

-- Pass 1: the distinct devices, to read their latest timestamps at once.
local devList, devIndex = {}, {}
do
  local a = FIRST
  for _ = 1, groups do
    local n = tonumber(ARGV[a + 1])
    a = a + 4
    for _ = 1, n do
      local dev = ARGV[a + 1]
      if devIndex[dev] == nil then
        devList[#devList + 1] = dev
        devIndex[dev] = #devList
      end
      a = a + 6
    end
  end
end

local latestTS = {}   -- device -> newest ts known (stored before or now)
local prevTS = {}     -- device -> newest ts stored before this call (-1: none)
for i = 1, #devList, CHUNK do
  local j = math.min(i + CHUNK - 1, #devList)
  local vals = redis.call('HMGET', lastts, unpack(devList, i, j))
  for k = i, j do
    local v = vals[k - i + 1]
    latestTS[devList[k]] = v and tonumber(v) or -1
    prevTS[devList[k]] = latestTS[devList[k]]
  end
end

-- Pass 2: dedup and history. A fix newer than everything the device had
-- stored before this call (prevTS, its latest timestamp) cannot repeat a
-- stored point, so only late fixes pay for a ZCOUNT; repeats inside this
-- call are caught by inCall. History points are written per device with one
-- multi-member ZADD at the end.
local pending = {}    -- device -> ARGV index of its new latest fix
local touched = {}    -- device -> history key written now
local oldest = {}     -- device -> oldest ts written now
local inCall = {}     -- device -> set of ts written by this call
local zadds, zorder = {}, {} -- history key -> {score, member, ...}
local evData, evFirst, evSubject = {}, {}, {} -- slot -> fix JSONs, ARGV index of the first fix, device or false
local out = {}
local a = FIRST
for _ = 1, groups do
  local seen = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 1])
  local digest = ARGV[a + 2]
  local slot = tonumber(ARGV[a + 3])
  a = a + 4
  -- The seen mark keeps the event's digest: a redelivery carries the same
  -- data, a producer reusing an id for other data does not ('1' is a mark
  -- from before digests were kept: unknown, not a conflict).
  local dup, conflict = false, 0
  if seen > 0 then
    dup = not redis.call('SET', KEYS[seen], digest, 'NX', 'PX', dedupTTL)
    if dup then
      local first = redis.call('GET', KEYS[seen])
      if first and first ~= '1' and first ~= digest then conflict = 1 end
    end
  end
  local accepted, dupFixes = 0, 0
  local flags = {}
  if dup then
    a = a + 6 * n
    dupFixes = n
    flags[1] = string.rep('0', n)
  else
    for _ = 1, n do
      local hkey = KEYS[tonumber(ARGV[a])]
      local dev, tsArg = ARGV[a + 1], ARGV[a + 2]
      local ts = tonumber(tsArg)
      local mine = inCall[dev]
      if mine == nil then
        mine = {}
        inCall[dev] = mine
      end
      -- (device, ts ms) is unique: a point at this exact score is a resend.
      local repeated = mine[ts] or (ts <= prevTS[dev] and redis.call('ZCOUNT', hkey, tsArg, tsArg) > 0)
      if repeated then
        dupFixes = dupFixes + 1
        flags[#flags + 1] = '0'
      else
        mine[ts] = true
        local z = zadds[hkey]
        if z == nil then
          z = {}
          zadds[hkey] = z
          zorder[#zorder + 1] = hkey
        end
        z[#z + 1] = tsArg
        z[#z + 1] = ARGV[a + 5]
        accepted = accepted + 1
        flags[#flags + 1] = '1'
        if slot > 0 then
          local d = evData[slot]
          if d == nil then
            d = {}
            evData[slot] = d
            evFirst[slot] = a
            evSubject[slot] = dev
          elseif evSubject[slot] ~= dev then
            evSubject[slot] = false
          end
          d[#d + 1] = ARGV[a + 5]
        end
        touched[dev] = hkey
        if oldest[dev] == nil or ts < oldest[dev] then oldest[dev] = ts end
        -- Only a strictly newer fix moves the latest position; late ones
        -- only land in history.
        if ts > latestTS[dev] then
          latestTS[dev] = ts
          pending[dev] = a
        end
      end
      a = a + 6
    end
  end
  out[#out + 1] = dup and 1 or 0
  out[#out + 1] = accepted
  out[#out + 1] = dupFixes
  out[#out + 1] = table.concat(flags)
  out[#out + 1] = conflict
end

for _, hkey in ipairs(zorder) do
  local z = zadds[hkey]
  for i = 1, #z, 2 * CHUNK do
    redis.call('ZADD', hkey, unpack(z, i, math.min(i + 2 * CHUNK - 1, #z)))
  end
end

-- The latest positions, once per device, in multi-member calls.
local geoArgs, lastArgs, tsArgs, newDevs = {}, {}, {}, {}
local function flush()
  if #geoArgs > 0 then
    redis.call('GEOADD', geo, unpack(geoArgs))
    redis.call('HSET', last, unpack(lastArgs))
    redis.call('HSET', lastts, unpack(tsArgs))
    geoArgs, lastArgs, tsArgs = {}, {}, {}
  end
end
for _, dev in ipairs(devList) do
  local p = pending[dev] -- ARGV index: history key, device, ts, lon, lat, json
  if p then
    local g = #geoArgs
    geoArgs[g + 1], geoArgs[g + 2], geoArgs[g + 3] = ARGV[p + 3], ARGV[p + 4], dev
    local h = #lastArgs
    lastArgs[h + 1], lastArgs[h + 2] = dev, ARGV[p + 5]
    tsArgs[h + 1], tsArgs[h + 2] = dev, ARGV[p + 2]
    if #geoArgs >= 3 * CHUNK then flush() end
  end
  -- Only a device seen for the first time joins the device set.
  if touched[dev] and prevTS[dev] < 0 then
    newDevs[#newDevs + 1] = dev
    if #newDevs >= CHUNK then
      redis.call('SADD', devices, unpack(newDevs))
      newDevs = {}
    end
  end
end
flush()
if #newDevs > 0 then redis.call('SADD', devices, unpack(newDevs)) end

-- Trim history and let it expire when its newest point (the device's latest
-- timestamp, which only grows) leaves retention, relative to the caller's
-- now. Both are per-device calls, so they run when the device is new, when
-- its latest position entered a new minute, or when a point older than the
-- cutoff was just written: points outlive retention by at most a minute, and
-- the expiry is rounded up to the minute (late, never early). A TTL of zero
-- or less deletes the key, which is right: all its points are beyond
-- retention.
local cutoffMS = tonumber(cutoff)
for _, dev in ipairs(devList) do
  local hkey = touched[dev]
  if hkey then
    local prev, cur = prevTS[dev], latestTS[dev]
    if prev < 0 or math.floor(prev / 60000) ~= math.floor(cur / 60000) or oldest[dev] < cutoffMS then
      redis.call('ZREMRANGEBYSCORE', hkey, '-inf', '(' .. cutoff)
      local expiry = (math.floor(cur / 60000) + 1) * 60000 + retention - now
      redis.call('PEXPIRE', hkey, string.format('%d', expiry))
    end
  end
end

-- The events, in slot order (the order of the requests in this call).
for slot = 1, slots do
  local d = evData[slot]
  if d then
    local s = slotBase + 3 * (slot - 1)
    local f = evFirst[slot]
    local id = redis.sha1hex(ARGV[s + 1] .. '\31' .. tenant .. '\31' .. ARGV[f + 1] .. '\31' .. ARGV[f + 2])
    redis.call('XADD', KEYS[outboxIdx], '*', 'type', ARGV[s + 1], 'id', id, 'source', ARGV[s + 2],
      'subject', evSubject[slot] or '', 'time', ARGV[1], 'trace', ARGV[s + 3],
      'data', '[' .. table.concat(d, ',') .. ']')
  end
end

return out
