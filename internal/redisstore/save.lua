-- Save one or more CloudEvent groups of fixes for one tenant, atomically.
--
-- KEYS[1] geo, KEYS[2] last, KEYS[3] lastts, KEYS[4] devices; KEYS[5..] the
-- seen and history keys, referenced by index from ARGV. All keys are declared
-- (Redis Cluster rules) and share the tenant's hash tag.
--
-- ARGV[1] now (unix ms), ARGV[2] history cutoff (unix ms, points below are
-- trimmed), ARGV[3] retention (ms), ARGV[4] dedup TTL (ms), ARGV[5] groups.
-- Then per group: seen key index (0 = no event dedup), fix count; and per
-- fix: history key index, device, ts (unix ms), lon, lat, fix JSON.
--
-- Returns per group: duplicate (0/1), accepted fixes, duplicate fixes, and a
-- string with one character per fix: '1' stored now, '0' a duplicate.
-- No unpack(): arguments are walked by index, so 10,000 fixes are fine.

local geo, last, lastts, devices = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local cutoff = ARGV[2]
local retention = tonumber(ARGV[3])
local dedupTTL = ARGV[4]
local groups = tonumber(ARGV[5])

local latestTS = {}   -- device -> newest ts known (stored or pending)
local pending = {}    -- device -> {ts, lon, lat, json} to become the latest
local pendingOrder = {}
local newest = {}     -- history key -> newest ts written now
local touchedOrder = {}
local known = {}      -- device -> true once SADDed by this call

local out = {}
local a = 6
for _ = 1, groups do
  local seen = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  local dup = false
  if seen > 0 and not redis.call('SET', KEYS[seen], '1', 'NX', 'PX', dedupTTL) then
    dup = true
  end
  local accepted, dupFixes = 0, 0
  local flags = {}
  if dup then
    a = a + 6 * n
    dupFixes = n
  else
    for _ = 1, n do
      local hkey = KEYS[tonumber(ARGV[a])]
      local dev, tsArg, lon, lat, js = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
      a = a + 6
      -- (device, ts ms) is unique: a point at this exact score is a resend.
      if redis.call('ZCOUNT', hkey, tsArg, tsArg) > 0 then
        dupFixes = dupFixes + 1
        flags[#flags + 1] = '0'
      else
        flags[#flags + 1] = '1'
        redis.call('ZADD', hkey, tsArg, js)
        accepted = accepted + 1
        local ts = tonumber(tsArg)

        local cur = latestTS[dev]
        if cur == nil then
          local stored = redis.call('HGET', lastts, dev)
          cur = stored and tonumber(stored) or -1
          latestTS[dev] = cur
        end
        -- Only a strictly newer fix moves the latest position; late ones
        -- only land in history.
        if ts > cur then
          latestTS[dev] = ts
          if pending[dev] == nil then
            pendingOrder[#pendingOrder + 1] = dev
          end
          pending[dev] = {tsArg, lon, lat, js}
        end

        local m = newest[hkey]
        if m == nil then
          touchedOrder[#touchedOrder + 1] = hkey
          newest[hkey] = ts
        elseif ts > m then
          newest[hkey] = ts
        end
        if not known[dev] then
          known[dev] = true
          redis.call('SADD', devices, dev)
        end
      end
    end
  end
  out[#out + 1] = dup and 1 or 0
  out[#out + 1] = accepted
  out[#out + 1] = dupFixes
  out[#out + 1] = table.concat(flags)
end

-- The latest position is written once per device, however many fixes came.
for _, dev in ipairs(pendingOrder) do
  local p = pending[dev]
  redis.call('GEOADD', geo, p[2], p[3], dev)
  redis.call('HSET', last, dev, p[4])
  redis.call('HSET', lastts, dev, p[1])
end

-- Trim history and let it expire when its newest point leaves retention.
for _, hkey in ipairs(touchedOrder) do
  redis.call('ZREMRANGEBYSCORE', hkey, '-inf', '(' .. cutoff)
  local ttl = math.floor(newest[hkey] + retention - now)
  -- PTTL is -1 without expiry, -2 when trimming emptied the key; an existing
  -- longer TTL belongs to a newer point written earlier, so only extend.
  if ttl > 0 and redis.call('PTTL', hkey) < ttl then
    redis.call('PEXPIRE', hkey, ttl)
  end
end

return out
