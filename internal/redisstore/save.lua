-- Save one or more CloudEvent groups of fixes for one tenant, atomically.
-- (records.lua is prepended: recordAt.)
--
-- KEYS[1] geo, KEYS[2] last, KEYS[3] lastts, KEYS[4] devices; KEYS[5..] the
-- history indexes and history buckets, referenced by index from ARGV. All
-- keys are declared (Redis Cluster rules) and share the tenant's hash tag,
-- except the bucket sealed when a device moves on to a new bucket, the
-- buckets deleted by the retention trim and the CloudEvent dedup keys, whose
-- names are built here from ARGV[10] (same tag, same slot).
--
-- ARGV[1] now (unix ms), ARGV[2] history cutoff (unix ms, points below are
-- trimmed), ARGV[3] retention (ms), ARGV[4] dedup TTL (ms), ARGV[5] groups,
-- ARGV[6] event outbox KEYS index (0 = no events), ARGV[7] its capacity,
-- ARGV[8] tenant, ARGV[9] event slots, ARGV[10] the tenant's key prefix
-- ("gt:{T}:"), ARGV[11] bucket width (ms), ARGV[12] keep old (1: no trim,
-- no expiry: an archiver trims), ARGV[13] the device quota (0 = none;
-- the tenant's override, field "devices" of <prefix>limits, wins; < 0:
-- not enforced at all, an edge node's copy), ARGV[14]
-- the groups and their fixes packed in one binary string (big-endian; one argument instead of eight
-- per fix, which Redis and the client would each convert), then per event
-- slot: type, source, traceparent.
--
-- The packed groups, read with struct.unpack: per group GROUP_FMT, the
-- event's dedup id ("" = no event dedup; else 10 bytes: a 32-bit shard hash
-- and a 48-bit fingerprint of source+id), fix count, digest of the event's
-- data (0..4095), event slot (0 = none); then per fix FIX_FMT: history
-- index KEYS index, bucket KEYS index, ts (unix ms), lon, lat (float64),
-- device, fix JSON ("" when the fix can be neither the device's latest,
-- being older than another fix of its group, nor part of an event), and
-- its binary record, appended to its bucket as it is.
--
-- Returns per group: duplicate (0/1), accepted fixes, duplicate fixes, a
-- string with one character per fix ('1' stored now, '0' a duplicate, '2'
-- refused: its device is new and the tenant's device quota is reached),
-- conflict (1: a duplicate event id whose data differs from the first's)
-- and the refused fixes; then, once, the device quota applied (0 = none).
--
-- Device quota: a device joins the tenant's device set with its first
-- stored fix. When the call has devices without a latest timestamp (new,
-- or nearly so), the quota is read (one HGET) and, if there is one, the
-- set's size (one SCARD); only when the new ones do not all fit are they
-- checked against the set (SMISMEMBER) and admitted in call order. A
-- refused device's fixes are not stored and mark no event as seen when
-- the whole group is refused, so it can be sent again once there is room.
--
-- Event outbox: the fixes stored now of the groups of one slot become one
-- event entry (fields type, id, source, subject, time, trace, data) in the
-- tenant's outbox stream, in this same atomic call, so no stored fix goes
-- unannounced. The id is sha1(type, tenant, device, ts) of its first fix
-- (redisstore.EventID). A full outbox fails the call before any write
-- (error reply OUTBOXFULL).
--
-- Cost matters (this is the ingest hot path): no call per fix; one APPEND
-- per device and bucket; a late fix (not newer than the device's latest)
-- reads its bucket once per call to find repeats; a trim and a PEXPIRE per
-- device at most once a minute (see the end); the latest positions,
-- timestamps and the device set are read and written with one multi-member
-- call per CHUNK devices. No unpack() of unbounded tables.

local geo, last, lastts, devices = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local dedupTTL = ARGV[4]
local groups = tonumber(ARGV[5])
local outboxIdx = tonumber(ARGV[6])
local tenant = ARGV[8]
local slots = tonumber(ARGV[9])
local keyBase = ARGV[10]
local W = tonumber(ARGV[11])
local keepOld = ARGV[12] == '1'
local slotBase = 14                 -- ARGV index before the slot definitions
local GROUP_FMT = '>I1c0I4I2I2'
local FIX_FMT = '>I2I2dddI2c0I4c0I4c0'
local CHUNK = 500

if outboxIdx > 0 then
  local depth = redis.call('XLEN', KEYS[outboxIdx])
  if depth + slots > tonumber(ARGV[7]) then
    return redis.error_reply('OUTBOXFULL the event outbox holds ' .. depth .. ' of ' .. ARGV[7] .. ' events')
  end
end

local function bucketKey(dev, n)
  return keyBase .. 'hb:' .. string.format('%d', n) .. ':' .. dev
end

-- Pass 1: unpack the groups and fixes, and list the distinct devices, to
-- read their latest timestamps at once. Fixes are numbered in call order.
local gSeen, gCount, gDigest, gSlot = {}, {}, {}, {}
local fHist, fBucket, fTS, fLon, fLat, fDev, fJSON, fRec = {}, {}, {}, {}, {}, {}, {}, {}
local devList, devIndex = {}, {}
do
  local blob, pos, nf = ARGV[14], 1, 0
  local unpack_ = struct.unpack
  for gi = 1, groups do
    local n
    gSeen[gi], n, gDigest[gi], gSlot[gi], pos = unpack_(GROUP_FMT, blob, pos)
    gCount[gi] = n
    for _ = 1, n do
      nf = nf + 1
      local dev
      fHist[nf], fBucket[nf], fTS[nf], fLon[nf], fLat[nf], dev, fJSON[nf], fRec[nf], pos = unpack_(FIX_FMT, blob, pos)
      fDev[nf] = dev
      if devIndex[dev] == nil then
        devList[#devList + 1] = dev
        devIndex[dev] = #devList
      end
    end
  end
  if pos ~= #blob + 1 then
    return redis.error_reply('ERR save: packed groups end at byte ' .. (pos - 1) .. ' of ' .. #blob)
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

-- Device quota (see the top): refused[dev] = true for a new device beyond it.
local refused, anyRefused = {}, false
local quota
do
  local fresh = {}
  for _, dev in ipairs(devList) do
    if prevTS[dev] < 0 then fresh[#fresh + 1] = dev end
  end
  quota = tonumber(ARGV[13]) or 0
  if #fresh > 0 and quota >= 0 then
    local override = tonumber(redis.call('HGET', keyBase .. 'limits', 'devices') or '')
    if override and override > 0 then quota = override end
    if quota > 0 then
      local held = redis.call('SCARD', devices)
      if held + #fresh > quota then
        local room = quota - held
        for i = 1, #fresh, CHUNK do
          local j = math.min(i + CHUNK - 1, #fresh)
          local member = redis.call('SMISMEMBER', devices, unpack(fresh, i, j))
          for k = i, j do
            if member[k - i + 1] == 0 then
              if room > 0 then
                room = room - 1
              else
                refused[fresh[k]] = true
                anyRefused = true
              end
            end
          end
        end
      end
    end
  end
end

-- CloudEvent dedup (source+id seen within DedupTTL). Marks live in
-- per-tenant time buckets of DedupTTL width, in HASHes small enough to stay
-- listpacks (~13 bytes a mark instead of a ~200-byte key each):
--   <prefix>sm:<n>          HASH c (marks in bucket n), s (shards of its generation 0)
--   <prefix>sd:<n>:<g>:<i>  HASH fingerprint (6 bytes) -> slot*4096 + digest
-- A bucket's marks fill generations: generation g has s*4^g shards and takes
-- s*4^g*FILL marks (FILL keeps every shard under hash-max-listpack-entries,
-- 128, with room for the spread of the hash), then the next one opens. A
-- lookup reads the current and the previous bucket, every generation of
-- each; s is sized from the previous bucket's count, so once a tenant's rate
-- is known a bucket has one or two generations. slot is the mark's time in
-- the bucket in units of DedupTTL/2048, rounded up, so a mark counts for at
-- least DedupTTL and less than DedupTTL + DedupTTL/2048; whole buckets
-- expire when their last mark ends.
local DW = tonumber(dedupTTL)       -- bucket width = DedupTTL (ms)
local DUNIT = DW / 2048
local FILL = 80
local GROWTH = 4                    -- few generations: a lookup reads each
local dn = math.floor(now / DW)
local dmeta                         -- [bucket] = {count, shards}, loaded on first use
local dexpire = {}                  -- shard keys written in this call
local dedupPrefix = {}              -- [n * 64 + g] = key prefix of generation g of bucket n
local function dedupKey(n, g, i)
  local k = n * 64 + g
  local p = dedupPrefix[k]
  if p == nil then
    p = keyBase .. 'sd:' .. string.format('%d', n) .. ':' .. g .. ':'
    dedupPrefix[k] = p
  end
  return p .. i -- i < 2^32: .. writes it as an integer
end
local function dedupMetaKey(n) return keyBase .. 'sm:' .. string.format('%d', n) end
local function loadDedupMeta()
  dmeta = {}
  local prevCount = 0
  for _, n in ipairs({dn - 1, dn}) do
    local v = redis.call('HMGET', dedupMetaKey(n), 'c', 's')
    local c, sh = tonumber(v[1]) or 0, tonumber(v[2])
    if n == dn - 1 then prevCount = c end
    if sh == nil and n == dn then
      sh = 64
      while sh * FILL * 2 < prevCount do sh = sh * 2 end -- one generation, half full
    end
    dmeta[n] = {c, sh or 64, c}
  end
end
-- generationOf returns the generation the mark number k (0-based) of a
-- bucket with s shards in generation 0 lands in, and that generation's shards.
local function generationOf(k, s)
  local g, shards = 0, s
  while k >= shards * FILL do
    k = k - shards * FILL
    g, shards = g + 1, shards * GROWTH
  end
  return g, shards
end
-- seenMark returns the digest of source+id's live mark, or nil after adding one.
local function seenMark(id, digest)
  if dmeta == nil then loadDedupMeta() end
  local b1, b2, b3, b4 = string.byte(id, 1, 4)
  local h = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
  local fp = string.sub(id, 5)
  for _, n in ipairs({dn, dn - 1}) do
    local m = dmeta[n]
    if m[1] > 0 then
      local last = generationOf(m[1] - 1, m[2])
      local shards = m[2]
      for g = 0, last do
        local v = redis.call('HGET', dedupKey(n, g, h % shards), fp)
        if v then
          v = tonumber(v)
          local markedUntil = n * DW + (math.floor(v / 4096) + 1) * DUNIT + DW
          if now < markedUntil then return v % 4096 end
        end
        shards = shards * GROWTH
      end
    end
  end
  local m = dmeta[dn]
  local g, shards = generationOf(m[1], m[2])
  local key = dedupKey(dn, g, h % shards)
  local slotInBucket = math.floor((now - dn * DW) / DUNIT)
  redis.call('HSET', key, fp, string.format('%d', slotInBucket * 4096 + digest))
  dexpire[key] = true
  m[1] = m[1] + 1
  return nil
end
local function finishDedup()
  if dmeta == nil then return end
  local m = dmeta[dn]
  if m[1] == m[3] then return end
  -- The last mark of bucket dn ends before (dn+2)*DW + DUNIT.
  local ttl = string.format('%d', math.ceil((dn + 2) * DW + DUNIT - now) + 1000)
  for key in pairs(dexpire) do redis.call('PEXPIRE', key, ttl) end
  local meta = dedupMetaKey(dn)
  redis.call('HSET', meta, 'c', string.format('%d', m[1]), 's', string.format('%d', m[2]))
  redis.call('PEXPIRE', meta, ttl)
end

-- storedAt tells whether a late fix's ts is already in its bucket, as
-- stored before this call. The bucket is read once per call. A late fix
-- first looks for its 3-byte ts offset anywhere in the bucket (a plain
-- string.find: a scan in C, no Lua step per record): when the bytes are
-- nowhere, no record starts with them and the fix is new. Walking the
-- records is a Lua step per record (bench fairness measured ~2 ms per save
-- call once the flood's devices held a few thousand points each): a tenant
-- sending late fixes at its request rate held Redis, and every other
-- tenant, that long per call. Only when the bytes are found
-- (a resend, or the bytes inside another record) or after SCANS lookups
-- in the same bucket (a backlog, where one walk is cheaper) are the
-- records walked, once, into storedTimes[bucket KEYS index], the set of
-- their ts.
local SCANS = 4
local storedTimes, storedBlob, scans = {}, {}, {}
local function storedAt(bidx, ts)
  local set = storedTimes[bidx]
  if set ~= nil then return set[ts] == true end
  local s = storedBlob[bidx]
  if s == nil then
    s = redis.call('GET', KEYS[bidx]) or ''
    storedBlob[bidx] = s
  end
  local start = math.floor(ts / W) * W
  local n = scans[bidx] or 0
  if n < SCANS then
    scans[bidx] = n + 1
    local off = ts - start
    local needle = string.char(math.floor(off / 65536), math.floor(off / 256) % 256, off % 256)
    if not string.find(s, needle, 1, true) then return false end
  end
  set = {}
  local p = 1
  while true do
    local off, q = recordAt(s, p)
    if off == nil then break end
    set[start + off] = true
    p = q
  end
  storedTimes[bidx] = set
  storedBlob[bidx] = nil
  return set[ts] == true
end

-- Pass 2: dedup and history. A fix newer than everything the device had
-- stored before this call (prevTS, its latest timestamp) cannot repeat a
-- stored point, so only late fixes look into their bucket; repeats inside
-- this call are caught by inCall. Records are appended per bucket with one
-- APPEND at the end.
local pending = {}    -- device -> number of its new latest fix
local touched = {}    -- device -> history index KEYS index written now
local oldest = {}     -- device -> oldest ts written now
local inCall = {}     -- device -> set of ts written by this call
local appends, border = {}, {} -- bucket KEYS index -> {record, ...}; their order
local bucketOf = {}   -- bucket KEYS index -> {index KEYS index, bucket number}
local evData, evFirst, evSubject = {}, {}, {} -- slot -> fix JSONs, number of the first fix, device or false
local out = {}
local a = 1           -- number of the group's first fix
for gi = 1, groups do
  local seenID, n, digest, slot = gSeen[gi], gCount[gi], gDigest[gi], gSlot[gi]
  -- The seen mark keeps the event's digest: a redelivery carries the same
  -- data, a producer reusing an id for other data does not.
  local dup, conflict, refusedFixes = false, 0, 0
  local allRefused = false
  if anyRefused then
    allRefused = n > 0
    for k = a, a + n - 1 do
      if not refused[fDev[k]] then allRefused = false break end
    end
  end
  if #seenID > 0 and not allRefused then
    local first = seenMark(seenID, digest)
    if first then
      dup = true
      if first ~= digest then conflict = 1 end
    end
  end
  local accepted, dupFixes = 0, 0
  local flags = {}
  if dup then
    a = a + n
    dupFixes = n
    flags[1] = string.rep('0', n)
  else
    for _ = 1, n do
      local hidx, bidx, dev, ts = fHist[a], fBucket[a], fDev[a], fTS[a]
      local mine = inCall[dev]
      if mine == nil then
        mine = {}
        inCall[dev] = mine
      end
      -- (device, ts ms) is unique: a point at this exact time is a resend.
      local repeated = mine[ts] or (ts <= prevTS[dev] and storedAt(bidx, ts))
      if refused[dev] then
        refusedFixes = refusedFixes + 1
        flags[#flags + 1] = '2'
      elseif repeated then
        dupFixes = dupFixes + 1
        flags[#flags + 1] = '0'
      else
        mine[ts] = true
        local recs = appends[bidx]
        if recs == nil then
          recs = {}
          appends[bidx] = recs
          border[#border + 1] = bidx
          bucketOf[bidx] = {hidx, math.floor(ts / W)}
        end
        recs[#recs + 1] = fRec[a]
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
          d[#d + 1] = fJSON[a]
        end
        touched[dev] = hidx
        if oldest[dev] == nil or ts < oldest[dev] then oldest[dev] = ts end
        -- Only a strictly newer fix moves the latest position; late ones
        -- only land in history.
        if ts > latestTS[dev] then
          latestTS[dev] = ts
          pending[dev] = a
        end
      end
      a = a + 1
    end
  end
  out[#out + 1] = dup and 1 or 0
  out[#out + 1] = accepted
  out[#out + 1] = dupFixes
  out[#out + 1] = table.concat(flags)
  out[#out + 1] = conflict
  out[#out + 1] = refusedFixes
end

finishDedup()

-- History: one APPEND per bucket. A new bucket (APPEND created the key)
-- joins its device's index (score its start, member its number) and
-- expires when its last possible point leaves retention.
for _, bidx in ipairs(border) do
  local data = table.concat(appends[bidx])
  if redis.call('APPEND', KEYS[bidx], data) == #data then
    local hidx, n = bucketOf[bidx][1], bucketOf[bidx][2]
    redis.call('ZADD', KEYS[hidx], string.format('%d', n * W), string.format('%d', n))
    if not keepOld then
      redis.call('PEXPIRE', KEYS[bidx], string.format('%d', (n + 1) * W + retention - now))
    end
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
  local p = pending[dev]
  if p then
    local g = #geoArgs
    -- Numbers go to redis.call as they are: Redis formats them with %.17g,
    -- which gives back the exact float64 (and a ms timestamp's digits).
    geoArgs[g + 1], geoArgs[g + 2], geoArgs[g + 3] = fLon[p], fLat[p], dev
    local h = #lastArgs
    lastArgs[h + 1], lastArgs[h + 2] = dev, fJSON[p]
    tsArgs[h + 1], tsArgs[h + 2] = dev, fTS[p]
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

-- Seal: when a device's latest fix moves on to a new bucket, the bucket it
-- was writing is rewritten at its exact size (APPEND grows strings greedily,
-- up to twice their length). A late fix may reopen a sealed bucket; the
-- next move seals only the bucket left, so that one stays a little larger.
for _, dev in ipairs(devList) do
  local prev = prevTS[dev]
  if touched[dev] and prev >= 0 then
    local pb = math.floor(prev / W)
    if math.floor(latestTS[dev] / W) > pb then
      local key = bucketKey(dev, pb)
      local v = redis.call('GET', key)
      if v then redis.call('SET', key, v, 'KEEPTTL') end
    end
  end
end

-- Trim history and let it expire when its newest point (the device's latest
-- timestamp, which only grows) leaves retention, relative to the caller's
-- now. Both are per-device calls, so they run when the device is new, when
-- its latest position entered a new minute, or when a point older than the
-- cutoff was just written. The trim drops whole buckets whose every point is
-- older than the cutoff (their keys, and the index entries; a legacy JSON
-- member of the index, from before buckets, counts as a bucket of one
-- point), so a point outlives retention by at most a bucket width and a
-- minute; each bucket key also expires on its own. The index expiry is
-- rounded up to the minute (late, never early). A TTL of zero or less
-- deletes the key, which is right: all its points are beyond retention.
-- With keep old, nothing is trimmed or expires here (the archiver trims),
-- and the index loses an expiry set before keep old was turned on, in the
-- same once-a-minute step, so that it cannot expire while the archiver
-- still needs it.
for _, dev in ipairs(devList) do
  local hidx = touched[dev]
  if hidx then
    local hkey = KEYS[hidx]
    local prev, cur = prevTS[dev], latestTS[dev]
    if prev < 0 or math.floor(prev / 60000) ~= math.floor(cur / 60000) or oldest[dev] < cutoff then
      if keepOld then
        redis.call('PERSIST', hkey)
      else
        local bound = string.format('%d', cutoff - W)
        local gone = redis.call('ZRANGEBYSCORE', hkey, '-inf', bound)
        for _, m in ipairs(gone) do
          if string.byte(m, 1) ~= 123 then redis.call('DEL', bucketKey(dev, tonumber(m))) end
        end
        if #gone > 0 then redis.call('ZREMRANGEBYSCORE', hkey, '-inf', bound) end
        local expiry = (math.floor(cur / 60000) + 1) * 60000 + retention - now
        redis.call('PEXPIRE', hkey, string.format('%d', expiry))
      end
    end
  end
end

-- The events, in slot order (the order of the requests in this call).
for slot = 1, slots do
  local d = evData[slot]
  if d then
    local s = slotBase + 3 * (slot - 1)
    local f = evFirst[slot]
    local id = redis.sha1hex(ARGV[s + 1] .. '\31' .. tenant .. '\31' .. fDev[f] .. '\31' .. string.format('%d', fTS[f]))
    redis.call('XADD', KEYS[outboxIdx], '*', 'type', ARGV[s + 1], 'id', id, 'source', ARGV[s + 2],
      'subject', evSubject[slot] or '', 'time', ARGV[1], 'trace', ARGV[s + 3],
      'data', '[' .. table.concat(d, ',') .. ']')
  end
end

out[#out + 1] = math.max(quota, 0)
return out
