-- Remove a device's history points older than a bound, exactly.
-- (records.lua is prepended: recordAt.)
--
-- KEYS[1] the device's history index. ARGV[1] the tenant's key prefix
-- ("gt:{T}:"), ARGV[2] device, ARGV[3] bound (unix ms: points with ts below
-- it go), ARGV[4] bucket width (ms), ARGV[5] the count of such points the
-- caller expects (-1: any). The bucket keys are named from the index here
-- (same hash tag, same slot as KEYS[1]).
--
-- Returns the number of points removed, or, when ARGV[5] is not -1 and
-- differs from the count found, the error HISTORYCHANGED and removes
-- nothing (a late fix arrived after the caller read the points).
local idx = KEYS[1]
local base, dev = ARGV[1], ARGV[2]
local before, W, expected = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

local members = redis.call('ZRANGEBYSCORE', idx, '-inf', '(' .. ARGV[3])
local whole = {}     -- {index member, bucket key or false}
local legacy = {}    -- index members that are JSON points (from before buckets)
local partial = nil  -- {member, key, kept records, removed}
local count = 0
for _, m in ipairs(members) do
  if string.byte(m, 1) == 123 then
    legacy[#legacy + 1] = m
    count = count + 1
  else
    local n = tonumber(m)
    local key = base .. 'hb:' .. string.format('%d', n) .. ':' .. dev
    local s = redis.call('GET', key)
    local start = n * W
    if not s then
      whole[#whole + 1] = {m, false} -- the bucket expired before its entry
    elseif start + W <= before then
      local p = 1
      while true do
        local off, q = recordAt(s, p)
        if off == nil then break end
        count = count + 1
        p = q
      end
      whole[#whole + 1] = {m, key}
    else
      local kept, removed, p = {}, 0, 1
      while true do
        local off, q = recordAt(s, p)
        if off == nil then break end
        if start + off < before then
          removed = removed + 1
        else
          kept[#kept + 1] = string.sub(s, p, q - 1)
        end
        p = q
      end
      count = count + removed
      partial = {m, key, kept, removed}
    end
  end
end

if expected >= 0 and count ~= expected then
  return redis.error_reply('HISTORYCHANGED ' .. count .. ' points before the bound, ' .. expected .. ' archived')
end

for _, w in ipairs(whole) do
  if w[2] then redis.call('DEL', w[2]) end
  redis.call('ZREM', idx, w[1])
end
for _, m in ipairs(legacy) do redis.call('ZREM', idx, m) end
if partial and partial[4] > 0 then
  if #partial[3] == 0 then
    redis.call('DEL', partial[2])
    redis.call('ZREM', idx, partial[1])
  else
    redis.call('SET', partial[2], table.concat(partial[3]), 'KEEPTTL')
  end
end
return count
